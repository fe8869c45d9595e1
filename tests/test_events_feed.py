"""One tenant's open transactions never hold back another tenant's event feed, and nothing
but an open append holds back a tenant's own."""

from __future__ import annotations

import json
import re
import time
import uuid

import psycopg
import pytest
from bench.plans import traced_plans

from agentledger import Ledger, LedgerError, NewEvent, Settings
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE
from agentledger.events import ops


def _tenant(ledger: Ledger) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tid, tid)
    return tid


def _feed_read(
    database_url: str, tenant: str, *, after: int, limit: int, analyze: bool = False
) -> tuple[list[int], str]:
    """The positions the feed read returns, and the plan of its events query (as
    auto_explain logs it; with ``analyze``, with the rows each node returned)."""
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("LOAD 'auto_explain'")
        owner.execute("SET auto_explain.log_nested_statements = on")
        owner.execute("SET auto_explain.log_min_duration = 0")
        owner.execute("SELECT set_config('auto_explain.log_analyze', %s, false)", [str(analyze)])
        owner.execute("SET auto_explain.log_level = notice")
        owner.execute("SELECT set_config('agentledger.tenant_id', %s, false)", (tenant,))
        notices: list[str] = []
        owner.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        rows = owner.execute(
            "SELECT position FROM agentledger.read_events_v3(%s, NULL, %s)", (after, limit)
        ).fetchall()
    [plan] = [n for n in notices if "agentledger.events e" in n and "Limit" in n]
    return [r[0] for r in rows], plan


def test_another_tenants_open_append_does_not_hold_back_this_feed(sync_ledger: Ledger) -> None:
    noisy, quiet = _tenant(sync_ledger), _tenant(sync_ledger)
    with sync_ledger.tenant(noisy).transaction() as open_tx:
        open_tx.events.append("s", "Held")  # appended, not committed: holds noisy's feed
        mine = sync_ledger.tenant(quiet).events.append("s", "Mine")
        assert [e.position for e in sync_ledger.tenant(quiet).events.read_all()] == [mine.position]
        # The noisy tenant's own later commits wait for its open append, as they must.
        later = sync_ledger.tenant(noisy).events.append("s2", "Later")
        assert sync_ledger.tenant(noisy).events.read_all() == []
    assert [e.type for e in sync_ledger.tenant(noisy).events.read_all()] == ["Held", "Later"]
    assert later.position > 0


def test_transactions_that_append_nothing_hold_back_no_feed(
    sync_ledger: Ledger, database_url: str
) -> None:
    tid = _tenant(sync_ledger)
    scope = sync_ledger.tenant(tid)
    with (
        psycopg.connect(database_url) as report,  # a BI query: a long repeatable-read read
        scope.transaction() as idle,  # this tenant's own session, idle after other writes
    ):
        report.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        report.execute("SELECT count(*) FROM agentledger.events")
        report.execute("SELECT pg_current_xact_id()")  # even one holding a transaction id
        idle.memory.upsert("fact", "wrote something, appended nothing")
        first = scope.events.append("s", "A")
        second = scope.events.append("s", "B")
        seen = scope.events.read_all()
        assert [e.position for e in seen] == [first.position, second.position]
        report.execute("ROLLBACK")


def test_a_feed_read_in_repeatable_read_is_still_commit_safe(
    sync_ledger: Ledger, app_url: str
) -> None:
    """Inside one snapshot only what that snapshot saw finished is returned."""
    tid = _tenant(sync_ledger)
    scope = sync_ledger.tenant(tid)
    done = scope.events.append("s", "Done")
    with psycopg.connect(app_url) as reader:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT agentledger.bind_tenant(%s)", (tid,))
        before = reader.execute(
            "SELECT position FROM agentledger.read_events_v1(0, NULL, 100)"
        ).fetchall()
        scope.events.append("s", "After")  # committed after the snapshot: not visible
        again = reader.execute(
            "SELECT position FROM agentledger.read_events_v1(0, NULL, 100)"
        ).fetchall()
        reader.execute("ROLLBACK")
    assert before == again == [(done.position,)]


def test_an_appender_left_idle_in_its_transaction_is_ended(settings: Settings) -> None:
    """The library's sessions end a transaction left idle past the timeout, so a forgotten
    open append cannot hold its tenant's feed (or anything else) for long."""
    with Ledger(settings.with_(idle_in_transaction_timeout_ms=200), migrate=False) as ledger:
        tid = _tenant(ledger)
        scope = ledger.tenant(tid)
        with pytest.raises(LedgerError), scope.transaction() as forgotten:
            forgotten.events.append("s", "Forgotten")
            time.sleep(1.0)  # well past the timeout: the server ends the session
            forgotten.events.append("s", "Too late")
        after = scope.events.append("s", "After")
        assert [e.position for e in scope.events.read_all()] == [after.position]


def test_a_repeatable_read_appender_that_wrote_first_is_not_skipped(
    sync_ledger: Ledger, app_url: str
) -> None:
    """An appender in one snapshot (REPEATABLE READ) that took its id before a younger
    append committed and was read still sorts after what the reader has read."""
    tid = _tenant(sync_ledger)
    scope = sync_ledger.tenant(tid)
    with psycopg.connect(app_url) as older:
        older.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        older.execute("SELECT agentledger.bind_tenant(%s)", (tid,))
        older.execute("SELECT pg_current_xact_id()")  # its id, and its one snapshot, now
        young = scope.events.append("s", "Young")
        assert [e.position for e in scope.events.read_all()] == [young.position]
        late_event = {"event_id": str(uuid.uuid4()), "stream": "s2", "type": "Late"}
        older.execute(
            "SELECT * FROM agentledger.append_events_v1(%s::jsonb, NULL)",
            (json.dumps([{**late_event, "actor_type": "system"}]),),
        )
        older.execute("COMMIT")
    late = scope.events.read_all(young.position)
    assert [e.type for e in late] == ["Late"]


def test_a_catch_up_read_walks_the_feed_index_in_order(
    sync_ledger: Ledger, database_url: str
) -> None:
    """Whatever the statistics say (none yet for these rows), the read follows the
    (tenant_id, commit_order, position) index and stops at its limit: no bitmap scan of the
    tenant's whole log, and no sort."""
    tenant = _tenant(sync_ledger)
    events = sync_ledger.tenant(tenant).events
    for batch in range(5):
        events.append_many([NewEvent(stream=f"s{batch}", type="T") for _ in range(1000)])
    positions, plan = _feed_read(database_url, tenant, after=0, limit=1000)
    assert len(positions) == 1000
    assert "Index Scan using events_commit_order" in plan
    assert "Sort" not in plan and "Bitmap" not in plan


def test_a_read_from_deep_in_the_log_starts_at_its_cursor(
    sync_ledger: Ledger, database_url: str
) -> None:
    """A reader far into the log costs what one at its start does: the feed index's scan
    begins just past the cursor event (an index condition), not at the tenant's first event
    with every event up to the cursor read and dropped."""
    tenant = _tenant(sync_ledger)
    events = sync_ledger.tenant(tenant).events
    appended = events.append_many([NewEvent(stream="s", type="T") for _ in range(3000)])
    cursor = appended[2500].position
    positions, plan = _feed_read(database_url, tenant, after=cursor, limit=10, analyze=True)
    assert positions == [a.position for a in appended[2501:2511]]
    assert re.search(r"Index Cond: .*ROW\(commit_order, \"position\"\) > ROW\(", plan), plan
    scanned = re.search(r"Index Scan using events_commit_order .*?rows=([\d.]+)", plan)
    assert scanned is not None and float(scanned.group(1)) <= 10, plan


def test_a_single_append_keeps_a_head_plan_that_reads_the_stream_index(
    sync_ledger: Ledger, database_url: str
) -> None:
    """A single append keeps the plan of its stream-head lookup across calls; that plan,
    generic here (made for no stream in particular), reads the stream's index backwards and
    stops at the head: never the tenant's feed index, never the whole table."""
    tenant = _tenant(sync_ledger)
    sync_ledger.tenant(tenant).events.append("s", "First")
    stmt = ops.one_statement(NewEvent(stream="s", type="Second"), None)
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        plans = traced_plans(conn, stmt.query.sql, dict(stmt.params), role=DEFAULT_APP_ROLE)  # type: ignore[arg-type]
    [head] = [p for p in plans.split("duration:") if "ORDER BY v.version DESC" in p]
    assert "Index Only Scan Backward using events_stream_version_unique" in head
    assert re.search(r"Index Cond: \(\(tenant_id = \$\d+\) AND \(stream = \$\d+\)\)", head)
    assert "events_commit_order" not in plans and "Seq Scan" not in plans
