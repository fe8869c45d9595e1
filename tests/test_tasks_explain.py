"""The claim reads the small partial index of ready work, not the whole task table; queue
depth and dead letters read their indexes, not the tenant's history."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from agentledger import Ledger, NewTask, Outcome
from agentledger.tasks.cycle import settle_params
from agentledger.tasks.ops import Q

FINISHED = 20_000
PENDING = 200


def test_claim_uses_the_ready_index(sync_ledger: Ledger, database_url: str, app_url: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    tasks = sync_ledger.tenant(tenant).tasks
    tasks.enqueue_many("ex", [NewTask(input={"i": i}) for i in range(FINISHED + PENDING)])
    with psycopg.connect(database_url, autocommit=True) as owner:
        # A long history: most tasks finished, a few still waiting.
        owner.execute(
            "UPDATE agentledger.tasks SET status = 'completed', finished_at = now() "
            "WHERE tenant_id = %s AND id IN (SELECT id FROM agentledger.tasks "
            "WHERE tenant_id = %s ORDER BY id LIMIT %s)",
            (tenant, tenant, FINISHED),
        )
        owner.execute("VACUUM ANALYZE agentledger.tasks")
    params = {
        "queue": "ex",
        "limit": 100,
        "lease": 60.0,
        "worker": "explain",
        "agent": None,
        **settle_params([])[1],
    }
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (tenant,))
        rows = conn.execute("EXPLAIN (FORMAT JSON) " + Q.settle_and_claim.sql, params).fetchall()
        conn.rollback()
    plan = json.dumps(rows[0]["QUERY PLAN"])
    assert '"Index Name": "tasks_ready"' in plan, plan
    assert '"Node Type": "Seq Scan"' not in plan, plan


def test_settle_finds_the_batch_by_primary_key(
    sync_ledger: Ledger, database_url: str, app_url: str
) -> None:
    """Whatever the table's statistics say (none here: it was never analyzed), the settled
    batch is looked up by primary key, with no join over the batch per row."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    tasks = sync_ledger.tenant(tenant).tasks
    tasks.enqueue_many("ex", [{"i": i} for i in range(2_000)])
    held = [t for _ in range(5) for t in tasks.claim("ex", limit=100)]
    done = [Outcome(id=t.id, token=t.claim_token, action="complete") for t in held if t.claim_token]
    tasks.settle(done[:400])
    last = done[400:]
    params = {
        "queue": None,
        "limit": 0,
        "lease": 1.0,
        "worker": None,
        "agent": None,
        **settle_params(last)[1],
    }
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (tenant,))
        rows = conn.execute("EXPLAIN (FORMAT JSON) " + Q.settle_and_claim.sql, params).fetchall()
        conn.rollback()
    update = _find(rows[0]["QUERY PLAN"][0]["Plan"], "ModifyTable")
    assert update is not None
    plan = json.dumps(update)
    assert '"Index Name": "tasks_pkey"' in plan, plan
    assert "Join" not in plan and "Nested Loop" not in plan, plan


def test_depth_and_dead_letters_read_indexes_only(
    sync_ledger: Ledger, database_url: str, app_url: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    tasks = sync_ledger.tenant(tenant).tasks
    ids = tasks.enqueue_many("ex", [NewTask(input={"i": i}) for i in range(FINISHED + PENDING)])
    with psycopg.connect(database_url, autocommit=True) as owner:
        # A long history of completed tasks, a few dead ones and a few still waiting.
        for status, some in (
            ("completed", ids[: FINISHED - 50]),
            ("dead", ids[FINISHED - 50 : FINISHED]),
        ):
            owner.execute(
                "UPDATE agentledger.tasks SET status = %s, finished_at = now() - interval '1 hour' "
                "WHERE tenant_id = %s AND id = ANY(%s)",
                (status, tenant, some),
            )
        owner.execute("VACUUM ANALYZE agentledger.tasks")
    plans = {}
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (tenant,))
        for name, query, params in (
            ("depth", Q.queue_depth, {"queue": None}),
            ("letters", Q.dead_letters, {"queue": None, "before": 2**63 - 1, "limit": 50}),
            ("queue letters", Q.dead_letters, {"queue": "ex", "before": 2**63 - 1, "limit": 50}),
            ("redrive", Q.redrive_queue, {"queue": "ex", "limit": 1000}),
        ):
            rows = conn.execute("EXPLAIN (FORMAT JSON) " + query.sql, params).fetchall()
            plans[name] = json.dumps(rows[0]["QUERY PLAN"])
        conn.rollback()
    for name, plan in plans.items():
        assert '"Node Type": "Seq Scan"' not in plan, (name, plan)
        assert '"Index Name": "tasks_dead_letters"' in plan, (name, plan)
    assert '"Index Name": "tasks_ready"' in plans["depth"], plans["depth"]
    assert '"Index Name": "tasks_finished"' in plans["depth"], plans["depth"]
    [depth] = tasks.depth()
    assert (depth.ready, depth.dead, depth.completed_last_minute) == (PENDING, 50, 0)


def _find(node: dict[str, Any], node_type: str) -> dict[str, Any] | None:
    if node.get("Node Type") == node_type:
        return node
    for child in node.get("Plans", []):
        found = _find(child, node_type)
        if found is not None:
            return found
    return None
