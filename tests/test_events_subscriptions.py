"""Subscribers see every committed event exactly once, in order, whatever the commit order."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import AbstractContextManager
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pytest

from agentledger import AsyncLedger, Conflict, Ledger, NewEvent, NotFound, Settings
from agentledger.db import waker as waker_module
from agentledger.db.binding import Binding
from agentledger.db.listen_sync import Listener
from agentledger.db.statements import Gen, Query, operation
from agentledger.events import EVENTS_CHANNEL, ops as events_ops
from agentledger.events.follow_async import AsyncFollower
from agentledger.events.follow_sync import Follower
from tests.faces import AsyncFace, _sync_cm


def follower(
    ledger: Ledger, tenant_id: str, name: str, **kwargs: Any
) -> AbstractContextManager[Any]:
    """The follower of whichever face ``ledger`` is, as a sync context manager."""
    if isinstance(ledger, AsyncFace):
        target = AsyncFollower(ledger._target.db, tenant_id, name, **kwargs)
        return _sync_cm(target, ledger._runner)
    return Follower(ledger.db, tenant_id, name, **kwargs)


def test_a_late_commit_is_not_skipped(ledger: Ledger, tenant_id: str) -> None:
    """A naive ``WHERE position > last`` reader would read B, move past A's position, and
    never see A once it commits."""
    scope = ledger.tenant(tenant_id)
    with scope.transaction() as slow:
        a = slow.events.append("s", "A")  # takes the lower position, commits last
        b = scope.events.append("s2", "B")
        assert b.position > a.position
        assert scope.events.read_all() == []  # B waits until A's transaction is over
    seen = scope.events.read_all()
    assert [e.type for e in seen] == ["A", "B"]


def test_a_writer_that_took_its_id_early_is_not_skipped(ledger: Ledger, tenant_id: str) -> None:
    """The writer that started first (older transaction id) appends last and takes the higher
    position: while it runs nothing it could precede is read, then both events arrive
    exactly once, and a reader that stored the last position it saw still misses nothing."""
    scope = ledger.tenant(tenant_id)
    with scope.transaction() as older:
        older.events.save_checkpoint("warm-up", 0)  # the transaction gets its id now
        with scope.transaction() as younger:
            low = younger.events.append("s", "Low")
        high = older.events.append("s2", "High")
        assert high.position > low.position
        # Low is committed, but the older transaction has appended and still runs.
        assert scope.events.read_all() == []
    batch = scope.events.read_all()
    assert [e.position for e in batch] == [low.position, high.position]
    assert scope.events.read_all(batch[-1].position) == []
    assert scope.events.read_all(low.position) == batch[1:]


def test_a_reader_that_moved_on_still_gets_an_early_writers_events(
    ledger: Ledger, tenant_id: str
) -> None:
    """A transaction that got its id before a younger one appended, and appends only after
    a reader has moved past the younger event, is still read after it (never skipped)."""
    scope = ledger.tenant(tenant_id)
    with scope.transaction() as older:
        older.events.save_checkpoint("warm-up", 0)  # an id, but no append yet
        young = scope.events.append("s", "Young")
        assert [e.position for e in scope.events.read_all()] == [young.position]
        late = older.events.append("s2", "Late")
    assert [e.position for e in scope.events.read_all(young.position)] == [late.position]


def test_follower_resumes_from_its_checkpoint(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    for i in range(5):
        events.append("s", "T", {"i": i})
    with follower(ledger, tenant_id, "proj", batch_size=2) as f:
        got = f.next_batch(timeout=1) + f.next_batch(timeout=1)
        f.save()
    assert [e.payload["i"] for e in got] == [0, 1, 2, 3]
    with follower(ledger, tenant_id, "proj") as f:
        rest = f.next_batch(timeout=1)
        assert f.next_batch(timeout=0) == []
    assert [e.payload["i"] for e in rest] == [4]


def test_notify_wakes_a_waiting_follower(
    ledger: Ledger, sync_ledger: Ledger, tenant_id: str
) -> None:
    """With polling every 60 s and a 30 s timeout, only the notification can deliver the
    event: without it next_batch would come back empty."""
    with follower(ledger, tenant_id, "waker", poll_interval=60) as f:
        assert f.next_batch(timeout=0) == []
        timer = threading.Timer(0.2, sync_ledger.tenant(tenant_id).events.append, ("s", "Ping"))
        timer.start()
        try:
            got = f.next_batch(timeout=30)
        finally:
            timer.join()
    assert [e.type for e in got] == ["Ping"]


def test_appends_notify_the_events_channel(
    ledger: Ledger, sync_ledger: Ledger, tenant_id: str
) -> None:
    """Each way of appending, on either face, wakes the channel once it committed: one
    statement (its own round trip), a batch with expected versions, and an append in a
    caller's transaction, only after that transaction commits."""
    scope = ledger.tenant(tenant_id)
    with sync_ledger.db.listener(EVENTS_CHANNEL) as listener:
        scope.events.append("s", "One")
        assert _notes(listener) == [(EVENTS_CHANNEL, tenant_id)]
        batch = [NewEvent(stream="s", type="Two"), NewEvent(stream="t", type="Three")]
        scope.events.append_many(batch, expected_versions={"s": 1})
        assert _notes(listener) == [(EVENTS_CHANNEL, tenant_id)]
        with scope.transaction() as tx:
            tx.events.append("s", "Four")
            assert _notes(listener, 0.3) == []  # not committed yet
        assert _notes(listener) == [(EVENTS_CHANNEL, tenant_id)]


def test_a_wake_up_reaches_every_channel_it_names(
    sync_ledger: Ledger, tenant_id: str, settings: Settings
) -> None:
    """One channel or several, each listener hears the tenant once; wake-ups of two tenants
    sent together reach both; the platform and an empty set wake nobody."""
    waker = sync_ledger.db.waker
    with sync_ledger.db.listener("al_test_a", "al_test_b") as listener:
        for channels in ({"al_test_a"}, {"al_test_a", "al_test_b"}):
            waker.wake(tenant_id, channels)
            assert _heard(listener, len(channels)) == [(c, tenant_id) for c in sorted(channels)]
        waker.wake(tenant_id, {"al_test_a"})
        waker.wake("another-tenant", {"al_test_a"})
        assert _heard(listener, 2) == [("al_test_a", "another-tenant"), ("al_test_a", tenant_id)]
        waker.wake(None, {"al_test_a"})
        waker.wake(tenant_id, set())
        assert waker.flush(10)
        assert _notes(listener, 0.3) == []


def test_wake_ups_recorded_together_go_out_once(sync_ledger: Ledger, tenant_id: str) -> None:
    """The same channel and tenant recorded again before the waker's next statement goes
    out once: a listener hears of a burst of writes, not of each."""
    waker = sync_ledger.db.waker
    with (
        sync_ledger.db.listener("al_test_a") as listener,
        patch.object(waker_module, "INTERVAL", 0.5),
    ):
        waker.wake("first", {"al_test_a"})
        for _ in range(3):
            waker.wake(tenant_id, {"al_test_a"})
        assert waker.flush(10)
        assert _heard(listener, 2) == [("al_test_a", "first"), ("al_test_a", tenant_id)]
        assert _notes(listener, 0.3) == []


def _heard(listener: Listener, n: int) -> list[tuple[str, str]]:
    """At least ``n`` notifications, sorted (they may arrive one wait apart)."""
    heard: list[tuple[str, str]] = []
    for _ in range(3):
        heard += _notes(listener, 3)
        if len(heard) >= n:
            break
    return sorted(heard)


def test_wake_ups_survive_a_lost_connection_and_go_out_at_close(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    """The waker's connection ended by the server: the next wake-up goes out on a new one.
    Closing the ledger sends what it has recorded before the waker stops."""
    with Ledger(settings, migrate=False) as mine, sync_ledger.db.listener(EVENTS_CHANNEL) as ear:
        events, waker = mine.tenant(tenant_id).events, mine.db.waker
        events.append("lost", "One")
        assert _notes(ear) == [(EVENTS_CHANNEL, tenant_id)]
        with sync_ledger.db.pool.connection() as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'agentledger-waker' AND datname = current_database()"
            ).fetchall()
        assert ended and all(row["pg_terminate_backend"] for row in ended)
        events.append("lost", "Two")
        assert _notes(ear) == [(EVENTS_CHANNEL, tenant_id)]
        events.append("lost", "Three")
        mine.close()
        assert waker.flush(0)  # everything recorded was sent before it stopped
        assert _notes(ear) == [(EVENTS_CHANNEL, tenant_id)]


def test_refused_appends_between_good_ones_on_one_connection(
    settings: Settings, aio: asyncio.Runner, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused append aborts the pipeline it was sent in: on the same connection, past
    the driver's threshold for preparing a statement, every later append still succeeds,
    no wake-up fails, and every refusal is a clean Conflict."""
    one = settings.with_(pool_min_size=1, pool_max_size=1)
    caplog.set_level(logging.WARNING, logger="agentledger")
    with Ledger(one, migrate=False) as mine:
        events = mine.tenant(tenant_id).events
        for version in range(12):
            events.append("sync", "E", expected_version=version)
            with pytest.raises(Conflict):
                events.append("sync", "E", expected_version=version)

    async def run() -> None:
        async with AsyncLedger(one, migrate=False) as mine:
            events = mine.tenant(tenant_id).events
            for version in range(12):
                await events.append("async", "E", expected_version=version)
                with pytest.raises(Conflict):
                    await events.append("async", "E", expected_version=version)

    aio.run(run())
    assert [r.getMessage() for r in caplog.records if "waking" in r.getMessage()] == []


def test_appends_after_refused_bindings_on_one_connection(
    settings: Settings, aio: asyncio.Runner, tenant_id: str
) -> None:
    """An append for a tenant that does not exist fails at its binding, and the server
    skips the append statement queued behind it: on the same connection, past the driver's
    threshold for preparing that statement, the good appends between keep succeeding."""
    one = settings.with_(pool_min_size=1, pool_max_size=1)
    with Ledger(one, migrate=False) as mine:
        for n in range(12):
            mine.tenant(tenant_id).events.append("bound", "E")
            with pytest.raises(NotFound):
                mine.tenant(f"missing-{n}").events.append("bound", "E")

    async def run() -> None:
        async with AsyncLedger(one, migrate=False) as mine:
            for n in range(12):
                await mine.tenant(tenant_id).events.append("bound", "E")
                with pytest.raises(NotFound):
                    await mine.tenant(f"missing-{n}").events.append("bound", "E")

    aio.run(run())


@operation(idempotent=True)
def _read_then_append(stream: str) -> Gen[int]:
    """Two statements: the database runs it in BEGIN ... COMMIT."""
    version = yield from events_ops.stream_version(stream).start()
    row = events_ops.event_json(NewEvent(stream=stream, type="Next"))
    rows = yield events_ops.append_statement([row], {stream: version})
    return int(rows[0]["version"])


def test_a_multi_statement_write_wakes_after_its_commit(
    sync_ledger: Ledger, async_ledger: AsyncLedger, aio: asyncio.Runner, tenant_id: str
) -> None:
    binding = Binding.to_tenant(tenant_id)
    with sync_ledger.db.listener(EVENTS_CHANNEL) as listener:
        assert sync_ledger.db.run(_read_then_append("m"), binding) == 1
        assert _notes(listener) == [(EVENTS_CHANNEL, tenant_id)]
        assert aio.run(async_ledger.db.run(_read_then_append("m"), binding)) == 2
        assert _notes(listener) == [(EVENTS_CHANNEL, tenant_id)]


def test_a_refused_append_wakes_nobody(sync_ledger: Ledger, tenant_id: str) -> None:
    scope = sync_ledger.tenant(tenant_id)
    scope.events.append("s", "One")
    assert sync_ledger.db.waker.flush(10)  # its wake-up is out before the listener starts
    with sync_ledger.db.listener(EVENTS_CHANNEL) as listener:
        with pytest.raises(Conflict):
            scope.events.append("s", "Late", expected_version=0)
        assert _notes(listener, 0.3) == []


def _notes(listener: Listener, timeout: float = 10) -> list[tuple[str, str]]:
    return [(n.channel, n.payload) for n in listener.wait(timeout)]


def test_a_failed_wake_up_leaves_the_committed_write_standing(
    sync_ledger: Ledger, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The wake-up goes out after the commit, from the waker's thread: when it fails, the
    write is kept, its result returned and the failure logged."""
    broken = Query("wake", "SELECT 1 / 0")
    waker = sync_ledger.db.waker
    with (
        patch.object(waker_module, "WAKE", broken),
        caplog.at_level(logging.WARNING, logger="agentledger"),
    ):
        scope = sync_ledger.tenant(tenant_id)
        one = scope.events.append("s", "One")
        assert waker.flush(10)
        version = sync_ledger.db.run(_read_then_append("s"), Binding.to_tenant(tenant_id))
        assert waker.flush(10)
    assert version == 2
    stored = scope.events.read_stream("s")
    assert [e.version for e in stored] == [1, 2] and stored[0].event_id == one.event_id
    assert sum("waking listeners failed" in r.getMessage() for r in caplog.records) == 2


def test_the_waker_outlives_an_unexpected_failure(
    sync_ledger: Ledger, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure that is not the database's (here a statement psycopg cannot send) is
    logged, and the next wake-up still goes out."""
    waker = sync_ledger.db.waker
    with sync_ledger.db.listener("al_test_a") as listener:
        with (
            patch.object(waker_module, "WAKE", SimpleNamespace(sql=None)),
            caplog.at_level(logging.WARNING, logger="agentledger"),
        ):
            waker.wake(tenant_id, {"al_test_a"})
            assert waker.flush(10)
        assert any("waking listeners failed" in r.getMessage() for r in caplog.records)
        waker.wake(tenant_id, {"al_test_a"})
        assert _heard(listener, 1) == [("al_test_a", tenant_id)]


@pytest.mark.slow
def test_subscriber_sees_every_event_once_in_order_with_concurrent_writers(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    writers, rounds = 8, 40
    done = threading.Event()
    acknowledged: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write(w: int) -> None:
        try:
            with Ledger(settings, migrate=False) as mine:
                scope = mine.tenant(tenant_id)
                for r in range(rounds):
                    if r % 4 == 3:  # the transaction has its id before it appends
                        with scope.transaction() as tx:
                            tx.events.save_checkpoint(f"w{w}", 0)
                            tx.events.append(f"w{w}", "T", {"w": w, "r": r, "k": 0})
                        n = 1
                    elif r % 3 == 0:  # two appends held in one transaction: commits interleave
                        with scope.transaction() as tx:
                            tx.events.append(f"w{w}", "T", {"w": w, "r": r, "k": 0})
                            tx.events.append(f"w{w}", "T", {"w": w, "r": r, "k": 1})
                        n = 2
                    elif r % 3 == 1:
                        scope.events.append_many(
                            [
                                NewEvent(stream=f"w{w}", type="T", payload={"w": w, "r": r, "k": k})
                                for k in range(3)
                            ]
                        )
                        n = 3
                    else:
                        scope.events.append(f"w{w}", "T", {"w": w, "r": r, "k": 0})
                        n = 1
                    with lock:
                        acknowledged.extend((w, r * 10 + k) for k in range(n))
        except BaseException as exc:
            errors.append(exc)

    seen: list[Any] = []

    def read() -> None:
        try:
            with Follower(sync_ledger.db, tenant_id, "auditor", poll_interval=0.05) as f:
                while True:
                    finished = done.is_set()
                    batch = f.next_batch(timeout=0.2)
                    seen.extend(batch)
                    if finished and not batch:
                        return
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    ids = [e.event_id for e in seen]
    assert len(ids) == len(set(ids)) == len(acknowledged)
    assert sorted((e.payload["w"], e.payload["r"] * 10 + e.payload["k"]) for e in seen) == sorted(
        acknowledged
    )
    for w in range(writers):  # each writer's events arrive in its own order
        versions = [e.version for e in seen if e.stream == f"w{w}"]
        assert versions == sorted(versions) == list(range(1, len(versions) + 1))
