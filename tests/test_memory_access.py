"""Access tracking: touched reads are counted by the ledger and written in batches (on
flush, when due, at close); inside a transaction, or with an interval of 0, with the read.
Both faces."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from typing import cast

import pytest

from agentledger import AsyncLedger, Ledger, Settings
from tests.faces import AsyncFace


def _open(settings: Settings, face: str, aio: asyncio.Runner, interval: float) -> Ledger:
    tuned = settings.with_(access_flush_interval=interval)
    if face == "sync":
        return Ledger(tuned, migrate=False).open()
    aledger = AsyncLedger(tuned, migrate=False)
    aio.run(aledger.open())
    return cast(Ledger, AsyncFace(aledger, aio))


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def counting(settings: Settings, face: str, aio: asyncio.Runner) -> Iterator[Ledger]:
    """A ledger that counts touched reads for an hour unless flushed."""
    ledger = _open(settings, face, aio, 3600)
    yield ledger
    ledger.close()


def _tenant(ledger: Ledger) -> str:
    tid = f"a-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(tid)
    return tid


def test_touched_reads_are_counted_then_written_in_one_flush(counting: Ledger) -> None:
    mem = counting.tenant(_tenant(counting)).memory
    sky = mem.upsert("fact", "sky is blue", key="sky")
    sea = mem.upsert("fact", "sea is blue too", key="sea")
    mem.get(sky.id, touch=True)
    assert mem.get_by_key("sky", touch=True) is not None
    assert {h.entity.id for h in mem.search_text("blue", touch=True)} == {sky.id, sea.id}
    assert mem.get(sky.id).access_count == 0  # counted, not written yet
    assert counting.flush_access() == 2  # both entities, one statement
    after = mem.get(sky.id)
    assert after.access_count == 3 and after.last_accessed_at is not None
    assert mem.get(sea.id).access_count == 1
    assert counting.flush_access() == 0  # nothing waits any more


def test_a_touch_inside_a_transaction_is_written_with_it(counting: Ledger) -> None:
    scope = counting.tenant(_tenant(counting))
    e = scope.memory.upsert("fact", "sky is blue")
    with scope.transaction() as tx:
        tx.memory.get(e.id, touch=True)
    assert scope.memory.get(e.id).access_count == 1
    assert counting.flush_access() == 0


def test_closing_the_ledger_writes_what_it_counted(
    settings: Settings, face: str, aio: asyncio.Runner
) -> None:
    ledger = _open(settings, face, aio, 3600)
    tid = _tenant(ledger)
    e = ledger.tenant(tid).memory.upsert("fact", "sky is blue")
    ledger.tenant(tid).memory.get(e.id, touch=True)
    ledger.close()
    with Ledger(settings, migrate=False) as other:
        assert other.tenant(tid).memory.get(e.id).access_count == 1


def test_an_interval_of_zero_writes_each_touch_with_its_read(
    settings: Settings, face: str, aio: asyncio.Runner
) -> None:
    ledger = _open(settings, face, aio, 0)
    try:
        mem = ledger.tenant(_tenant(ledger)).memory
        e = mem.upsert("fact", "sky is blue")
        mem.get(e.id, touch=True)
        assert mem.get(e.id).access_count == 1
        assert ledger.flush_access() == 0
    finally:
        ledger.close()


def test_counts_a_tenant_cannot_write_are_dropped_and_the_read_stands(
    counting: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    tid = _tenant(counting)
    mem = counting.tenant(tid).memory
    e = mem.upsert("fact", "sky is blue")
    counting.tenants.suspend(tid)  # reads still work, writes do not
    assert mem.get(e.id, touch=True).id == e.id
    with caplog.at_level(logging.WARNING, logger="agentledger"):
        assert counting.flush_access() == 0
    assert f"tenant {tid} not written" in caplog.text
    counting.tenants.activate(tid)
    assert mem.get(e.id).access_count == 0
    assert counting.flush_access() == 0  # dropped, not retried


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(Exception, match="access_flush_interval"):
        Settings.build(access_flush_interval=-1)
