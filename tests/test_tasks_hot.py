"""tasks_0004: a claim and a heartbeat rewrite their rows in place (HOT), touching no index;
unfinished tasks are exactly those with no finish time."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from agentledger import Ledger
from agentledger.tasks.cycle import RESULT_COLUMNS, settle_params
from agentledger.tasks.ops import Q


def _updates(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """This session's row updates of the tasks table not yet reported to the statistics
    system: (all, heap-only)."""
    row = conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
        "WHERE schemaname = 'agentledger' AND relname = 'tasks'"
    ).fetchone()
    assert row is not None
    return int(row["n_tup_upd"]), int(row["n_tup_hot_upd"])


def test_claim_and_heartbeat_are_heap_only_updates(sync_ledger: Ledger, app_url: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    sync_ledger.tenant(tenant).tasks.enqueue_many("hot", [{"i": i} for i in range(300)])
    params = {"queue": "hot", "limit": 100, "lease": 60.0, "worker": "w", "agent": None}
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (tenant,))
        cur = conn.execute(Q.settle_and_claim.sql, {**params, **settle_params([])[1]})
        assert cur.description is not None
        assert tuple(column.name for column in cur.description) == RESULT_COLUMNS
        claimed = cur.fetchall()
        ids = [row["id"] for row in claimed if row["id"] is not None]
        token = next(row["token"] for row in claimed if row["id"] is None)
        assert len(ids) == 100
        assert _updates(conn) == (100, 100)
        conn.commit()
        # A later transaction: the claim's versions are the live ones, the pending ones dead.
        conn.execute("SELECT agentledger.bind_tenant(%s)", (tenant,))
        before = _updates(conn)
        beat = conn.execute(
            Q.heartbeat.sql, {"ids": ids, "tokens": [token] * len(ids), "lease": 120.0}
        ).fetchall()
        assert len(beat) == 100
        after = _updates(conn)
        assert (after[0] - before[0], after[1] - before[1]) == (100, 100)
        conn.rollback()


def test_an_unfinished_task_is_one_with_no_finish_time(
    sync_ledger: Ledger, database_url: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    task = sync_ledger.tenant(tenant).tasks.enqueue("inv")
    with psycopg.connect(database_url) as owner:
        for change in (
            "status = 'completed'",  # finished without a finish time
            "finished_at = now()",  # pending with one
        ):
            with pytest.raises(psycopg.errors.CheckViolation, match="tasks_finished_at"):
                owner.execute(
                    f"UPDATE agentledger.tasks SET {change} WHERE tenant_id = %s AND id = %s",
                    (tenant, task.id),
                )
            owner.rollback()
