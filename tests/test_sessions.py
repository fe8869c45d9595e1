"""Sessions on both faces: create, read, list, lifecycle (in code and in the database),
counters under concurrent writers, delete and retention, events, tenant isolation."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import psycopg
import pytest

from agentledger import Conflict, IllegalTransition, InvalidInput, Ledger, NotFound
from agentledger.sessions import SESSION_LIFECYCLE


def test_create_is_idempotent_and_reads_back(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = uuid.uuid4()
    made = sessions.create(
        "Plan the launch", participants=["ana", "codex", "ana"], metadata={"k": 1}, id=sid
    )
    assert made.id == sid and made.status == "active" and made.participants == ["ana", "codex"]
    assert (made.chunk_count, made.artifact_count, made.memory_count, made.task_count) == (
        0,
        0,
        0,
        0,
    )
    assert sessions.create("Plan the launch", id=sid) == made  # a retry returns it
    with pytest.raises(Conflict) as info:
        sessions.create("Another title", id=sid)
    assert info.value.field == "id"
    assert sessions.get(sid) == made
    events = ledger.tenant(tenant_id).events.read_stream(f"session:{sid}")
    assert [e.type for e in events] == ["SessionCreated"]


def test_a_session_deleted_and_made_again_under_its_id_logs_each_life(
    ledger: Ledger, tenant_id: str
) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = uuid.uuid4()
    for title in ("First", "First", "Second"):
        sessions.create(title, id=sid)
        assert sessions.create(title, id=sid).title == title  # a retry adds nothing
        assert sessions.delete(sid) and not sessions.delete(sid)
    events = ledger.tenant(tenant_id).events.read_stream(f"session:{sid}")
    assert [e.type for e in events] == ["SessionCreated", "SessionDeleted"] * 3
    assert [e.payload.get("title") for e in events[::2]] == ["First", "First", "Second"]


def test_lifecycle_moves_and_refusals(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = sessions.create("s").id
    assert sessions.pause(sid).status == "paused"
    assert sessions.resume(sid, by="ana").status == "active"
    done = sessions.complete(sid)
    assert done.status == "completed" and done.status_changed_at is not None
    with pytest.raises(IllegalTransition) as illegal:
        sessions.resume(sid)
    assert illegal.value.detail == {"action": "resume", "state": "completed"}
    with pytest.raises(InvalidInput) as bad:
        sessions.transition(sid, "explode")
    assert bad.value.field == "action"
    with pytest.raises(NotFound):
        sessions.pause(uuid.uuid4())
    assert sessions.archive(sid).status == "archived"
    types = [e.type for e in ledger.tenant(tenant_id).events.read_stream(f"session:{sid}")]
    assert types == ["SessionCreated"] + ["SessionStatusChanged"] * 4


def test_the_database_holds_the_same_lifecycle(ledger: Ledger, tenant_id: str) -> None:
    rows = ledger.tenant(tenant_id).sessions.transitions()
    table = sorted(
        (state, action, target)
        for state, moves in SESSION_LIFECYCLE.table.items()
        for action, target in moves.items()
    )
    assert sorted(rows) == table


def test_a_raw_update_cannot_skip_the_lifecycle(
    sync_ledger: Ledger, app_url: str, database_url: str
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sid = sync_ledger.tenant(tid).sessions.create("raw").id
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", [tid])
        with pytest.raises(psycopg.Error) as info:
            conn.execute("UPDATE agentledger.sessions SET status = 'archived' WHERE id = %s", [sid])
        assert info.value.sqlstate == "ALIT0"
    with psycopg.connect(database_url) as owner, pytest.raises(psycopg.Error):
        owner.execute("UPDATE agentledger.sessions SET status = 'bogus' WHERE id = %s", [sid])
    assert sync_ledger.tenant(tid).sessions.get(sid).status == "active"


def test_bad_input_names_the_field_and_writes_nothing(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    cases: list[tuple[str, dict[str, Any]]] = [
        ("title", {"title": "bad\x00title"}),
        ("title", {"title": "   "}),
        ("participants[0]", {"title": "t", "participants": [""]}),
        ("metadata.a", {"title": "t", "metadata": {"a": float("nan")}}),
        ("id", {"title": "t", "id": "not-a-uuid"}),
    ]
    for field, kwargs in cases:
        with pytest.raises(InvalidInput) as info:
            sessions.create(**kwargs)
        assert info.value.field == field, kwargs
    with pytest.raises(InvalidInput) as status:
        sessions.list(status="sleeping")
    assert status.value.field == "status"
    assert sessions.list() == []


def test_list_filters_and_pages(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    made = [sessions.create(f"s{i}", participants=["ana"] if i % 2 else ["bo"]) for i in range(5)]
    sessions.pause(made[0].id)  # now the most recently active
    listed = sessions.list()
    assert listed[0].id == made[0].id and len(listed) == 5
    assert {s.id for s in sessions.list(participant="ana")} == {made[1].id, made[3].id}
    assert [s.id for s in sessions.list(status="paused")] == [made[0].id]
    first = sessions.list(limit=2)
    rest = sessions.list(before=(first[-1].last_activity, first[-1].id), limit=10)
    assert [s.id for s in first + rest] == [s.id for s in listed]
    assert sessions.list(before=first[-1], limit=10) == rest  # the record is its position
    later = sessions.list(active_since=made[0].last_activity)
    assert made[0].id in {s.id for s in later}
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert sessions.list(active_since=future) == []
    assert len(sessions.list(active_until=future)) == 5


def test_counters_hold_under_concurrent_writers(sync_ledger: Ledger) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sessions = sync_ledger.tenant(tid).sessions
    sid = sessions.create("busy").id
    seqs: list[int] = []
    versions: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for i in range(10):
            chunk = sessions.add_chunk(sid, f"writer {n} line {i}", author=f"w{n}")
            art = sessions.save_artifact(sid, "notes", f"v from {n}", artifact_type="document")
            with lock:
                seqs.append(chunk.seq)
                versions.append(art.version)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 61))
    assert sorted(versions) == list(range(1, 61))
    session = sessions.get(sid)
    assert (session.chunk_count, session.artifact_count) == (60, 1)
    assert len(sessions.artifact_versions(sid, "notes")) == 60


def test_racing_retries_of_one_id_all_get_the_stored_write(sync_ledger: Ledger) -> None:
    # A client retrying after a timeout sends the same id while the first try is still
    # running: every try, on its own connection, answers with the one stored chunk or version.
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sessions = sync_ledger.tenant(tid).sessions
    sid = sessions.create("retries").id
    answers: list[tuple[str, object]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def retry(barrier: threading.Barrier, write: str, wid: uuid.UUID) -> None:
        barrier.wait()
        try:
            if write == "chunk":
                done: object = sessions.add_chunk(sid, "say it once", id=wid)
            else:
                done = sessions.save_artifact(sid, "doc", "once", artifact_type="code", id=wid)
        except BaseException as exc:  # every failure is the finding
            with lock:
                failures.append(exc)
            return
        with lock:
            answers.append((write, done))

    rounds = 8
    for write in ("chunk", "artifact") * rounds:
        barrier = threading.Barrier(3)
        wid = uuid.uuid4()
        threads = [threading.Thread(target=retry, args=(barrier, write, wid)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        last = [done for _, done in answers[-3:]]
        assert last == [last[0]] * 3, last
    session = sessions.get(sid)
    assert (session.chunk_count, session.artifact_count) == (rounds, 1)
    assert [c.seq for c in sessions.list_chunks(sid)] == list(range(1, rounds + 1))
    assert len(sessions.artifact_versions(sid, "doc")) == rounds


def test_delete_cascades_and_retention_purges_old_closed_sessions(
    sync_ledger: Ledger, database_url: str
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sessions = sync_ledger.tenant(tid).sessions
    doomed = sessions.create("doomed").id
    chunk = sessions.add_chunk(doomed, "hello there")
    sessions.save_artifact(doomed, "a", "x", artifact_type="code")
    assert sessions.delete(doomed) is True and sessions.delete(doomed) is False
    with pytest.raises(NotFound):
        sessions.get_chunk(chunk.id)
    old = [sessions.create(f"old{i}").id for i in range(5)]
    for sid in old:
        sessions.add_chunk(sid, "some words")
        sessions.complete(sid)
    kept_open = sessions.create("old but active").id
    fresh_done = sessions.complete(sessions.create("recent").id).id
    with psycopg.connect(database_url) as owner:
        owner.execute(
            "UPDATE agentledger.sessions SET last_activity = now() - interval '40 days'"
            " WHERE tenant_id = %s AND id = ANY(%s)",
            [tid, [*old, kept_open]],
        )
    assert sessions.purge(30, batch=2) == 5
    left = {s.id for s in sessions.list()}
    assert left == {kept_open, fresh_done}
    with psycopg.connect(database_url) as owner:
        orphans = owner.execute(
            "SELECT count(*) FROM agentledger.session_chunk_segments WHERE tenant_id = %s", [tid]
        ).fetchone()
    assert orphans == (0,)


def test_a_second_tenant_sees_nothing(ledger: Ledger, tenant_id: str) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    mine = ledger.tenant(tenant_id).sessions
    sid = mine.create("secret", participants=["ana"]).id
    chunk = mine.add_chunk(sid, "the secret launch codes")
    mine.save_artifact(sid, "plan", "secret plan", artifact_type="prd")
    theirs = ledger.tenant(other).sessions
    assert theirs.list() == [] and theirs.search("secret") == []
    assert theirs.search_artifacts("secret") == []
    for call in (
        lambda: theirs.get(sid),
        lambda: theirs.get_chunk(chunk.id),
        lambda: theirs.add_chunk(sid, "intrusion"),
        lambda: theirs.save_artifact(sid, "x", "y", artifact_type="code"),
        lambda: theirs.get_artifact(sid, "plan"),
        lambda: theirs.pause(sid),
        lambda: theirs.list_chunks(sid),
    ):
        with pytest.raises(NotFound):
            call()
    assert theirs.delete(sid) is False
    assert mine.get(sid).chunk_count == 1 and mine.get(sid).status == "active"


def test_update_keeps_what_is_not_given(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    made = sessions.create("Draft", participants=["ana"], metadata={"a": 1})
    changed = sessions.update(made.id, summary="We agreed on Monday.", participants=["ana", "bo"])
    assert (changed.title, changed.metadata) == ("Draft", {"a": 1})
    assert changed.summary == "We agreed on Monday." and changed.participants == ["ana", "bo"]
    assert changed.last_activity >= made.last_activity
    with pytest.raises(NotFound):
        sessions.update(uuid.uuid4(), title="x")
    with pytest.raises(InvalidInput) as info:
        sessions.update(made.id, summary="nul\x00")
    assert info.value.field == "summary"
