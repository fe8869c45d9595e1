"""Tasks of a session (sessions_0002): counted by the database, listed by session, agent and
claimer, deleted with the session on request."""

from __future__ import annotations

import threading
import uuid

import psycopg

from agentledger import Ledger, NewTask


def test_the_database_counts_a_sessions_tasks(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    s = scope.sessions.create("planning")
    other = scope.sessions.create("other")
    before = scope.sessions.get(s.id).last_activity
    sid = str(s.id)
    scope.tasks.enqueue("work", {"n": 1}, session_id=sid, agent_name="codex", priority=5)
    scope.tasks.enqueue_many(
        "work",
        [NewTask(input={"n": i}, session_id=sid) for i in range(3)]
        + [NewTask(input={"n": 9}, session_id="not-a-session"), NewTask(input={"n": 10})],
    )
    got = scope.sessions.get(s.id)
    assert got.task_count == 4 and got.last_activity >= before
    assert scope.sessions.get(other.id).task_count == 0
    (claimed,) = scope.tasks.claim("work", agent="codex", worker="control-1", limit=1)
    assert claimed.session_id == sid and claimed.claimed_by == "control-1"
    mine = scope.tasks.list(session_id=s.id)
    assert len(mine) == 4 and {t.session_id for t in mine} == {sid}
    assert [t.id for t in scope.tasks.list(agent="codex")] == [claimed.id]
    assert [t.id for t in scope.tasks.list(claimed_by="control-1")] == [claimed.id]
    assert scope.tasks.list(session_id=sid, status="running") == [claimed]
    scope.tasks.complete(claimed, {"ok": True})
    assert scope.sessions.get(s.id).task_count == 4  # finishing keeps it counted


def test_concurrent_enqueues_are_all_counted(sync_ledger: Ledger) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    scope = sync_ledger.tenant(tid)
    sid = str(scope.sessions.create("busy").id)

    def enqueue() -> None:
        for i in range(10):
            scope.tasks.enqueue("q", {"i": i}, session_id=sid)

    threads = [threading.Thread(target=enqueue) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert scope.sessions.get(sid).task_count == 60


def test_deleting_a_session_takes_its_tasks_only_when_asked(
    ledger: Ledger, tenant_id: str, app_url: str
) -> None:
    scope = ledger.tenant(tenant_id)
    keep, drop = scope.sessions.create("keep"), scope.sessions.create("drop")
    scope.tasks.enqueue("keep-q", {}, session_id=str(keep.id))
    scope.tasks.enqueue("drop-q", {"n": 1}, session_id=str(drop.id))
    scope.tasks.enqueue("drop-q", {"n": 2}, session_id=str(drop.id))
    (done,) = scope.tasks.claim("drop-q", limit=1)
    scope.tasks.complete(done, {})
    assert scope.tasks.prune(older_than=0) == 1  # one of drop's tasks is in the archive

    def archived(session: uuid.UUID) -> object:
        with psycopg.connect(app_url) as conn, conn.transaction():
            conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
            row = conn.execute(
                "SELECT count(*) FROM agentledger.task_archive WHERE session_id = %s",
                [str(session)],
            ).fetchone()
        return row[0] if row else None

    assert archived(drop.id) == 1
    assert scope.sessions.delete(keep.id)
    assert len(scope.tasks.list(session_id=keep.id)) == 1  # kept, naming the old session
    assert scope.sessions.delete(drop.id, tasks=True)
    assert scope.tasks.list(session_id=drop.id) == [] and archived(drop.id) == 0
    assert len(scope.tasks.list(queue="keep-q")) == 1
