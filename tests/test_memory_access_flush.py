"""Accesses written without being asked: a touched read once the flush interval has passed
(no later read needed), and a batch's repeats of a new entity as the merges they are; both
faces."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from agentledger import AsyncLedger, Entity, Ledger, NewEntity, Settings
from agentledger.memory.facade_sync import Memory
from agentledger.memory.flushing import NAME
from tests.faces import AsyncFace


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _open(settings: Settings, face: str, aio: asyncio.Runner, interval: float) -> Ledger:
    tuned = settings.with_(access_flush_interval=interval)
    if face == "sync":
        return Ledger(tuned, migrate=False).open()
    aledger = AsyncLedger(tuned, migrate=False)
    aio.run(aledger.open())
    return cast(Ledger, AsyncFace(aledger, aio))


def _eventually(check: Callable[[], bool], face: str, aio: asyncio.Runner) -> bool:
    """Whether ``check`` holds within 10 s; the async ledger's loop runs meanwhile."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if check():
            return True
        if face == "sync":
            time.sleep(0.05)
        else:
            aio.run(asyncio.sleep(0.05))
    return check()


def _tenant(ledger: Ledger) -> str:
    tid = f"a-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(tid)
    return tid


def test_a_touched_read_is_written_once_due_without_another_read(
    settings: Settings, face: str, aio: asyncio.Runner
) -> None:
    ledger = _open(settings, face, aio, 0.2)
    try:
        mem = ledger.tenant(_tenant(ledger)).memory
        e = mem.upsert("fact", "sky is blue")
        mem.get(e.id, touch=True)
        mem.get(e.id, touch=True)
        assert _eventually(lambda: mem.get(e.id).access_count == 2, face, aio)
        stored = mem.get(e.id)
        assert stored.last_accessed_at is not None
        # The next read counted schedules the next write.
        mem.get(e.id, touch=True)
        assert _eventually(lambda: mem.get(e.id).access_count == 3, face, aio)
        assert ledger.flush_access() == 0  # nothing waits any more
    finally:
        ledger.close()


def test_asking_for_a_flush_and_closing_replace_the_scheduled_one(
    settings: Settings, face: str, aio: asyncio.Runner
) -> None:
    ledger = _open(settings, face, aio, 3600)
    tid = _tenant(ledger)
    mem = ledger.tenant(tid).memory
    e = mem.upsert("fact", "sky is blue")
    before = _flushes(face, aio)
    mem.get(e.id, touch=True)
    assert ledger.flush_access() == 1
    mem.get(e.id, touch=True)
    scheduled = _flushes(face, aio) - before
    assert scheduled  # the second read's (flush_access() cancelled the first's)
    ledger.close()  # writes the second read, and cancels its flush
    with Ledger(settings, migrate=False) as other:
        assert other.tenant(tid).memory.get(e.id).access_count == 2
    assert _eventually(lambda: not (_flushes(face, aio) & scheduled), face, aio)


def _flushes(face: str, aio: asyncio.Runner) -> set[object]:
    """The flushes scheduled and not over: timer threads, or the loop's tasks."""
    if face == "sync":
        return {t for t in threading.enumerate() if t.name == NAME}
    return set(aio.run(_tasks()))


async def _tasks() -> list[asyncio.Task[object]]:
    await asyncio.sleep(0)  # a task cancelled ends once the loop runs it
    return [t for t in asyncio.all_tasks() if t.get_name() == NAME]


def _batch_and_one_by_one(mem: Memory, at: datetime | None) -> tuple[Entity, Entity]:
    """An entity upserted by a batch of three inputs of its key, and one by three upserts."""
    batch = mem.upsert_many([NewEntity(kind="c", name="A", key="batched", at=at)] * 3)
    for _ in range(3):
        single = mem.upsert("c", "A", key="single", at=at)
    return mem.get(batch.ids[0]), single


def test_a_batch_counts_repeats_of_a_new_entity_as_accesses(ledger: Ledger, tenant_id: str) -> None:
    mem = ledger.tenant(tenant_id).memory
    batched, single = _batch_and_one_by_one(mem, None)
    for e in (batched, single):
        assert (e.update_count, e.access_count) == (2, 2)
        assert e.last_accessed_at == e.updated_at
    then = datetime.now(UTC) - timedelta(days=30)
    mem = ledger.tenant(_tenant(ledger)).memory
    batched, single = _batch_and_one_by_one(mem, then)
    for e in (batched, single):
        assert (e.access_count, e.last_accessed_at) == (2, then)
    once = mem.upsert_many([NewEntity(kind="c", name="B", key="once")])
    fresh = mem.get(once.ids[0])
    assert (fresh.access_count, fresh.last_accessed_at) == (0, None)
