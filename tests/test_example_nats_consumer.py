"""The NATS consumer example applies each relayed event once, however often it arrives."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from agentledger import AsyncLedger, Ledger, NewEvent


def test_consumer_applies_each_event_once(
    sync_ledger: Ledger,
    async_ledger: AsyncLedger,
    aio: asyncio.Runner,
    jetstream: str,
    stream_name: str,
    tmp_path: Path,
) -> None:
    pytest.importorskip("nats")
    from agentledger.integrations.nats import Relay
    from examples.nats_consumer.consumer import Projection, consume

    tenant = f"shop-{uuid.uuid4().hex[:8]}"
    sync_ledger.tenants.create(tenant, tenant)
    scope = sync_ledger.tenant(tenant)
    scope.events.append_many(
        [NewEvent(stream=f"order:{i % 3}", type="paid", payload={"amount": i}) for i in range(30)]
        + [NewEvent(stream="invoice:1", type="sent", payload={"amount": 1000})]
    )
    prefix = f"shop_{uuid.uuid4().hex[:8]}"
    relay = Relay(async_ledger, jetstream, tenants=[tenant], stream=stream_name, prefix=prefix)
    aio.run(relay.run(until_idle=True))

    projection = Projection(str(tmp_path / "orders.db"))
    subject = f"{prefix}.*.order"
    first = aio.run(consume(jetstream, stream_name, projection, subject=subject, idle_timeout=0.3))
    expected = {(tenant, f"order:{s}"): (10, sum(range(s, 30, 3)), 10) for s in range(3)}
    assert first == 30
    assert projection.totals() == expected
    # The durable consumer resumes after its acks: nothing comes again.
    again = aio.run(consume(jetstream, stream_name, projection, subject=subject, idle_timeout=0.3))
    assert again == 0
    # A new consumer delivers every message again: each is skipped, nothing changes.
    replay = aio.run(
        consume(
            jetstream, stream_name, projection, subject=subject, durable="replay", idle_timeout=0.3
        )
    )
    assert replay == 0
    assert projection.totals() == expected
