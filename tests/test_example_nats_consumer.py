"""The NATS consumer example applies each relayed event once, however often it arrives."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    expected = {(tenant, f"order:{s}"): (10, Decimal(sum(range(s, 30, 3))), 10) for s in range(3)}
    assert first == 30
    assert projection.totals() == expected
    # The durable consumer resumes after its acks: nothing comes again; a new consumer
    # delivers every message again: each is skipped, nothing changes.
    assert _applied_again(aio, jetstream, stream_name, projection, subject) == (0, 0)
    assert projection.totals() == expected


def test_amounts_are_exact_and_an_unreadable_event_is_kept_dead_not_blocking(
    sync_ledger: Ledger,
    async_ledger: AsyncLedger,
    aio: asyncio.Runner,
    jetstream: str,
    stream_name: str,
    tmp_path: Path,
) -> None:
    """9.99 and "12.50" are summed exactly; an amount that is not a number, and a message
    that is not JSON, are kept in dead_events with their reason and acknowledged, and the
    events after them are applied. Consuming again, or replaying, changes nothing."""
    pytest.importorskip("nats")
    import nats

    from agentledger.integrations.nats import Relay
    from examples.nats_consumer.consumer import Projection, consume

    tenant = f"shop-{uuid.uuid4().hex[:8]}"
    sync_ledger.tenants.create(tenant, tenant)
    appended = sync_ledger.tenant(tenant).events.append_many(
        [
            NewEvent(stream="order:1", type="paid", payload={"amount": 9.99}),
            NewEvent(stream="order:1", type="paid", payload={"amount": "12.50"}),
            NewEvent(stream="order:1", type="paid", payload={"amount": None}),
            NewEvent(stream="order:1", type="paid", payload={"amount": "lots"}),
            NewEvent(stream="order:1", type="paid", payload={"amount": 5}),
        ]
    )
    prefix = f"shop_{uuid.uuid4().hex[:8]}"
    relay = Relay(async_ledger, jetstream, tenants=[tenant], stream=stream_name, prefix=prefix)
    aio.run(relay.run(until_idle=True))

    async def publish_garbage() -> None:
        nc = await nats.connect(jetstream)
        try:
            await nc.jetstream().publish(f"{prefix}.{tenant}.order", b"not json {")
        finally:
            await nc.close()

    aio.run(publish_garbage())
    projection = Projection(str(tmp_path / "orders.db"))
    subject = f"{prefix}.*.order"
    first = aio.run(consume(jetstream, stream_name, projection, subject=subject, idle_timeout=0.3))
    assert first == 3
    expected = {(tenant, "order:1"): (3, Decimal("27.49"), 5)}
    assert projection.totals() == expected
    ids = [str(a.event_id) for a in appended]
    dead = projection.dead()
    assert set(dead) == {ids[2], ids[3], f"{stream_name}:6"}
    assert "amount is None" in dead[ids[2]] and "'lots'" in dead[ids[3]]
    assert dead[f"{stream_name}:6"].startswith("not JSON")
    # Everything was acknowledged: nothing comes again; a replay changes nothing.
    assert _applied_again(aio, jetstream, stream_name, projection, subject) == (0, 0)
    assert projection.totals() == expected
    assert projection.dead() == dead


def _applied_again(
    aio: Any, jetstream: Any, stream: str, projection: Any, subject: str
) -> tuple[int, int]:
    """What the durable consumer applies on a second run, and what a new consumer (every
    message delivered again) applies."""
    from examples.nats_consumer.consumer import consume

    again = aio.run(consume(jetstream, stream, projection, subject=subject, idle_timeout=0.3))
    replay = aio.run(
        consume(jetstream, stream, projection, subject=subject, durable="replay", idle_timeout=0.3)
    )
    return again, replay
