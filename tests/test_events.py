"""The append-only event log, on both faces: idempotency, versions, reads, isolation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from typing import Any

import psycopg
import pytest

from agentledger import (
    Conflict,
    InvalidInput,
    Ledger,
    NewEvent,
    NotFound,
    Settings,
    VersionConflict,
)
from agentledger.db.binding import Binding
from agentledger.db.statements import Op
from agentledger.events.facade_sync import Events


def test_append_and_read_a_stream(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    first = events.append(
        "case:EX-1", "ExceptionCreated", {"amount": 10}, actor_type="agent", actor_id="triage"
    )
    second = events.append("case:EX-1", "TriageCompleted", expected_version=1)
    assert (first.version, second.version) == (1, 2)
    assert second.position > first.position
    assert not first.already_appended
    stored = events.read_stream("case:EX-1")
    assert [e.type for e in stored] == ["ExceptionCreated", "TriageCompleted"]
    assert stored[0].payload == {"amount": 10}
    assert (stored[0].actor_type, stored[0].actor_id) == ("agent", "triage")
    backwards = events.read_stream("case:EX-1", backwards=True)
    assert [e.version for e in backwards] == [2, 1]
    assert [e.version for e in events.read_stream("case:EX-1", from_version=2)] == [2]
    assert [e.version for e in events.read_stream("case:EX-1", from_version=1, backwards=True)] == [
        1
    ]
    assert events.stream_version("case:EX-1") == 2
    assert events.stream_version("case:none") == 0
    assert events.get(first.event_id).type == "ExceptionCreated"


def test_a_batch_run_again_by_a_retry_appends_its_events_once(
    sync_ledger: Ledger, tenant_id: str
) -> None:
    """The façade makes the ids a batch's events lack before the operation: the driver's
    retry after a lost commit runs the very same operation again, and appends nothing new."""
    binding = Binding(tenant_id)
    runs: list[list[Any]] = []

    def twice(op: Op[Any]) -> Any:
        runs.append(sync_ledger.db.run(op, binding))  # this attempt commits
        runs.append(sync_ledger.db.run(op, binding))  # the retry
        return runs[-1]

    batch = [NewEvent(stream="retried", type="Noted", payload={"n": n}) for n in range(3)]
    Events(twice).append_many(batch)
    first, again = runs
    assert not any(a.already_appended for a in first)
    assert all(a.already_appended for a in again)
    assert [a.event_id for a in again] == [a.event_id for a in first]
    assert sync_ledger.tenant(tenant_id).events.stream_version("retried") == 3


def test_reappending_an_id_says_so_with_the_original_place(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    event_id = uuid.uuid4()
    first = events.append("s", "Created", {"a": 1}, event_id=event_id, expected_version=0)
    # A retry after an unknown outcome: same id, same expected version.
    again = events.append("s", "Created", {"a": 1}, event_id=event_id, expected_version=0)
    assert again.already_appended and not first.already_appended
    assert (again.position, again.version) == (first.position, first.version)
    assert events.stream_version("s") == 1
    assert events.exists(event_id)
    with pytest.raises(Conflict, match=str(event_id)):
        events.append("s", "Created", {"a": 2}, event_id=event_id)


def test_expected_version_mismatch_raises_and_writes_nothing(
    ledger: Ledger, tenant_id: str
) -> None:
    events = ledger.tenant(tenant_id).events
    events.append("order:1", "Placed", expected_version=0)
    with pytest.raises(VersionConflict, match="'order:1' is at version 1, not the expected 0"):
        events.append_many(
            [NewEvent(stream="order:2", type="Placed"), NewEvent(stream="order:1", type="Paid")],
            expected_versions={"order:1": 0},
        )
    assert events.stream_version("order:2") == 0
    assert events.stream_version("order:1") == 1


def test_batch_append_is_atomic_and_ordered(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    known = events.append("b:1", "Zero")
    batch = [NewEvent(stream=f"b:{i % 3}", type="T", payload={"i": i}) for i in range(30)]
    batch.insert(5, NewEvent(stream="b:1", type="Zero", event_id=known.event_id))
    results = events.append_many(batch, expected_versions={"b:0": 0, "b:1": 1})
    assert [r.stream for r in results] == [e.stream for e in batch]  # in the batch's order
    assert results[5].already_appended and results[5].position == known.position
    fresh = [r for r in results if not r.already_appended]
    assert [r.position for r in fresh] == sorted(r.position for r in fresh)
    assert [e.payload["i"] for e in events.read_stream("b:1")[1:]] == list(range(1, 30, 3))
    assert events.stream_version("b:1") == 11
    with pytest.raises(InvalidInput, match="appears twice"):
        same = uuid.uuid4()
        events.append_many([NewEvent(stream="x", type="T", event_id=same)] * 2)
    assert events.stream_version("x") == 0


def test_minted_event_ids_are_time_ordered_v7(ledger: Ledger, tenant_id: str) -> None:
    """Ids the library mints begin with their time, so the id index grows at one end."""
    events = ledger.tenant(tenant_id).events
    first = events.append("ids", "T")
    batch = events.append_many([NewEvent(stream="ids", type="T") for _ in range(3)])
    minted = [first.event_id, *(r.event_id for r in batch)]
    assert {i.version for i in minted} == {7}
    assert first.event_id.bytes[:6] <= min(r.event_id.bytes[:6] for r in batch)
    given = uuid.uuid4()  # a caller's own id is kept as it is
    assert events.append("ids", "T", event_id=given).event_id == given


def test_one_event_and_a_batch_keep_the_same_rules(ledger: Ledger, tenant_id: str) -> None:
    # A lone event goes by its own statement, a batch by another: an id stored by either is
    # known to the other, and a version expected of a stream not appended to is refused by
    # both.
    events = ledger.tenant(tenant_id).events
    alone = NewEvent(stream="r:1", type="T", payload={"n": 1}, event_id=uuid.uuid4())
    batched = NewEvent(stream="r:2", type="T", payload={"n": 2}, event_id=uuid.uuid4())
    for batch in ([alone], [alone, batched]):
        with pytest.raises(InvalidInput) as refused:
            events.append_many(batch, expected_versions={"r:1": 0, "elsewhere": 7})
        assert refused.value.field == "expected_versions"
    first = events.append_many([alone], expected_versions={"r:1": 0})[0]
    events.append_many([batched, NewEvent(stream="r:2", type="T")])
    again = events.append_many([batched])[0]
    assert again.already_appended and again.version == 1
    replay = events.append_many([alone, NewEvent(stream="r:1", type="U")])
    assert replay[0].already_appended and replay[0].position == first.position
    assert replay[1].version == 2
    dated = events.append("r:3", "T", at=first.created_at - dt.timedelta(days=3))
    assert events.get(dated.event_id).created_at == first.created_at - dt.timedelta(days=3)
    with pytest.raises(Conflict, match="other content"):
        events.append_many([dataclasses.replace(batched, payload={"n": 3})])
    with pytest.raises(VersionConflict, match="'r:2' is at version 2, not the expected 1"):
        events.append("r:2", "T", expected_version=1)
    assert [events.stream_version(s) for s in ("r:1", "r:2", "r:3")] == [2, 2, 1]


def test_a_batch_with_stored_ids_keeps_the_rules(ledger: Ledger, tenant_id: str) -> None:
    """A batch of several events that repeats stored ones: content is checked, and a stream
    the batch only repeats stored events of is not held to its expected version."""
    events = ledger.tenant(tenant_id).events
    stored = NewEvent(stream="k:1", type="T", payload={"n": 1}, event_id=uuid.uuid4())
    events.append_many([stored, NewEvent(stream="k:1", type="T")])
    with pytest.raises(Conflict, match="other content"):
        events.append_many(
            [dataclasses.replace(stored, payload={"n": 9}), NewEvent(stream="k:2", type="T")]
        )
    assert events.stream_version("k:2") == 0  # nothing of the refused batch was written
    mixed = events.append_many(
        [NewEvent(stream="k:2", type="T"), stored], expected_versions={"k:1": 0, "k:2": 0}
    )
    assert [(r.stream, r.version, r.already_appended) for r in mixed] == [
        ("k:2", 1, False),
        ("k:1", 1, True),
    ]
    with pytest.raises(VersionConflict, match="'k:1' is at version 2, not the expected 0"):
        events.append_many([stored, NewEvent(stream="k:1", type="T")], expected_versions={"k:1": 0})
    assert events.stream_version("k:1") == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"stream": "", "type": "T"}, "stream"),
        ({"stream": "s\x00", "type": "T"}, "stream"),
        ({"stream": "s", "type": "T", "payload": {"x": "a\x00"}}, "payload.x"),
        ({"stream": "s", "type": "T", "payload": {"x": "y" * 1_100_000}}, "payload"),
        ({"stream": "s", "type": "T", "actor_type": "robot"}, "actor_type"),
        ({"stream": "s", "type": "T", "event_id": "nope"}, "event_id"),
        ({"stream": "s", "type": "T", "expected_version": -1}, "expected_version"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    ledger: Ledger, tenant_id: str, kwargs: dict[str, Any], field: str
) -> None:
    events = ledger.tenant(tenant_id).events
    with pytest.raises(InvalidInput) as info:
        events.append(**kwargs)
    assert info.value.field == field
    assert events.read_all() == []


def test_read_all_pages_by_position_and_filters_types(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    for i in range(5):
        events.append(f"s{i}", "Even" if i % 2 == 0 else "Odd", {"i": i})
    page = events.read_all(limit=3)
    rest = events.read_all(page[-1].position)
    assert [e.payload["i"] for e in page + rest] == list(range(5))
    assert [e.payload["i"] for e in events.read_all(types=["Odd"])] == [1, 3]
    assert events.read_all(rest[-1].position) == []
    with pytest.raises(NotFound, match="position"):
        events.read_all(rest[-1].position + 10_000)


def test_checkpoints_commit_with_the_consumers_writes(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    assert scope.events.checkpoint("projector") == 0
    appended = scope.events.append("s", "T")
    with pytest.raises(RuntimeError), scope.transaction() as tx:
        tx.events.save_checkpoint("projector", appended.position)
        tx.events.append("projection", "Projected")
        raise RuntimeError("the consumer failed")
    assert scope.events.checkpoint("projector") == 0
    assert scope.events.stream_version("projection") == 0
    with scope.transaction() as tx:
        tx.events.save_checkpoint("projector", appended.position)
        tx.events.append("projection", "Projected")
    assert scope.events.checkpoint("projector") == appended.position
    assert scope.events.stream_version("projection") == 1


def test_tenants_do_not_see_each_others_events(ledger: Ledger, tenant_id: str) -> None:
    other = f"o-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(other)
    mine = ledger.tenant(tenant_id).events.append("shared-name", "Mine")
    theirs = ledger.tenant(other).events
    assert theirs.read_all() == []
    assert theirs.read_stream("shared-name") == []
    assert not theirs.exists(mine.event_id)
    with pytest.raises(NotFound):
        theirs.read_all(mine.position)
    # The same id and stream in another tenant is another event.
    again = theirs.append("shared-name", "Theirs", event_id=mine.event_id)
    assert not again.already_appended and again.version == 1


def test_json_that_is_a_string_reads_as_that_string(
    sync_ledger: Ledger, app_url: str, tenant_id: str
) -> None:
    """An event appended in SQL with a JSON string as payload: a catch-up read gives that
    string, on every read of the field (it is decoded once, not again)."""
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", [tenant_id])
        conn.execute(
            "SELECT agentledger.append_event_v3(gen_random_uuid(), 'sql', 'T', 'system',"
            " NULL, %s::jsonb, '{}', NULL, NULL)",
            ['"{\\"not\\": \\"an object\\"}"'],
        )
    (event,) = sync_ledger.tenant(tenant_id).events.read_all(0)
    first: Any = event.payload
    again: Any = event.payload
    assert first == '{"not": "an object"}' and again == first and isinstance(again, str)


def test_app_role_cannot_update_or_delete_the_log(
    sync_ledger: Ledger, app_url: str, tenant_id: str
) -> None:
    appended = sync_ledger.tenant(tenant_id).events.append("s", "T")
    for statement in (
        "UPDATE agentledger.events SET type = 'X' WHERE position = %s",
        "DELETE FROM agentledger.events WHERE position = %s",
        "TRUNCATE agentledger.events",
    ):
        with psycopg.connect(app_url) as conn:
            conn.execute("SELECT agentledger.bind_tenant(%s)", [tenant_id])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, [appended.position] if "%s" in statement else None)
    assert sync_ledger.tenant(tenant_id).events.get(appended.event_id).type == "T"


def test_concurrent_duplicate_appends_store_one_event(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    event_id = uuid.uuid4()
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        with Ledger(settings, migrate=False) as mine:
            barrier.wait()
            try:
                results.append(
                    mine.tenant(tenant_id).events.append(
                        "dup", "Once", {"k": 1}, event_id=event_id, expected_version=0
                    )
                )
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(not r.already_appended for r in results) == 1
    assert {(r.position, r.version) for r in results} == {(results[0].position, 1)}
    assert len(sync_ledger.tenant(tenant_id).events.read_stream("dup")) == 1


def test_recent_lists_newest_first_with_type_filter(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    for i in range(5):
        events.append("s:recent", "Even" if i % 2 == 0 else "Odd", {"i": i})
    latest = events.recent(limit=3)
    assert [e.payload["i"] for e in latest] == [4, 3, 2]
    assert [e.payload["i"] for e in events.recent(types=["Odd"])] == [3, 1]


def test_of_fifty_concurrent_appends_expecting_one_version_exactly_one_wins(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    """Distinct event ids, one stream, each expecting version 3: one appends version 4,
    the other 49 get VersionConflict and write nothing."""
    events = sync_ledger.tenant(tenant_id).events
    for i in range(3):
        events.append("race", "Before", {"i": i})
    writers = 50
    won: list[Any] = []
    lost: list[BaseException] = []
    barrier = threading.Barrier(writers)
    with Ledger(settings.model_copy(update={"pool_max_size": writers}), migrate=False) as mine:
        scope = mine.tenant(tenant_id)

        def worker(i: int) -> None:
            barrier.wait()
            try:
                won.append(scope.events.append("race", "Raced", {"i": i}, expected_version=3))
            except BaseException as exc:
                lost.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(won) == 1 and won[0].version == 4 and not won[0].already_appended
    assert len(lost) == writers - 1
    assert all(isinstance(exc, VersionConflict) for exc in lost)
    stored = events.read_stream("race")
    assert [e.version for e in stored] == [1, 2, 3, 4]
    assert stored[-1].event_id == won[0].event_id


def test_a_catch_up_read_gives_the_same_events_as_the_stream(
    ledger: Ledger, tenant_id: str
) -> None:
    """read_all hands out events whose JSON is decoded when first read: equal to the same
    events read by stream, field for field, and serialised alike."""
    events = ledger.tenant(tenant_id).events
    appended = events.append_many(
        [
            NewEvent(stream="feed", type="T", payload={"i": i, "nested": {"s": "é"}})
            for i in range(3)
        ]
        + [NewEvent(stream="feed", type="U", metadata={"trace": "t-1"})]
    )
    feed = events.read_all(0)
    by_stream = events.read_stream("feed")
    assert [e.position for e in feed] == [a.position for a in appended]
    assert feed == by_stream
    assert [dataclasses.asdict(e) for e in events.read_all(0)] == [
        dataclasses.asdict(e) for e in by_stream
    ]
    fresh = events.read_all(0)
    assert repr(fresh[0]) == repr(by_stream[0])
    assert fresh[1].payload == {"i": 1, "nested": {"s": "é"}}
    assert isinstance(fresh[1].payload, dict) and fresh[3].metadata == {"trace": "t-1"}
    assert fresh[3].payload == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh[2].payload = {}  # type: ignore[misc]
