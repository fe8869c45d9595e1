"""Case listings and the supervisor's aggregates read through the indexes chosen for them:
the plans of the real calls as the application role, tenant bound (auto_explain shows
the statements inside the definer functions too)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import psycopg
from bench.plans import traced_plans
from psycopg import sql

from agentledger import Ledger
from agentledger.cases import listing
from agentledger.cases.ops import Q
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE
from agentledger.db.statements import Stmt, run_offline
from tests.test_cases import BOTTLENECK

# A tenant's history: many closed cases, a few open ones (one in fifty), spread over days.
LOAD = """
INSERT INTO agentledger.cases (tenant_id, id, kind, status, title, score, severity, domain,
                               entity, sla_deadline, created_at)
SELECT %(tenant)s, gen_random_uuid(), 'bottleneck',
       CASE WHEN mod(i, 50) = 0 THEN 'pending' WHEN mod(i, 50) = 1 THEN 'in_progress'
            WHEN mod(i, 2) = 0 THEN 'resolved' ELSE 'ignored' END,
       'case ' || i, mod(i, 101) / 10.0,
       (ARRAY['low', 'medium', 'high', 'critical'])[1 + mod(i, 4)],
       'domain ' || mod(i, 20), 'acct:' || mod(i, 500),
       now() + (mod(i, 48) - 24) * interval '1 hour', now() - i * interval '1 minute'
FROM generate_series(1, %(n)s) AS i
"""


def traced(database_url: str, tenant: str, stmt: Stmt) -> str:
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        return traced_plans(conn, stmt.query.sql, dict(stmt.params), role=DEFAULT_APP_ROLE)  # type: ignore[arg-type]


def explained(database_url: str, tenant: str, stmt: Stmt) -> str:
    """EXPLAIN of one plain statement with its parameters, as the application role."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(DEFAULT_APP_ROLE)))
        rows = conn.execute("EXPLAIN (COSTS OFF) " + stmt.query.sql, stmt.params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def listed(**filters: Any) -> Stmt:
    _, [stmt] = run_offline(listing.list_(**filters), [[]])
    return stmt


def test_listings_and_aggregates_use_their_indexes(sync_ledger: Ledger, database_url: str) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sync_ledger.tenant(tid).cases.define_kind("bottleneck", **BOTTLENECK)
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("SELECT set_config('agentledger.tenant_id', %s, false)", [tid])
        owner.execute(LOAD, {"tenant": tid, "n": 20_000})
        owner.execute("VACUUM ANALYZE agentledger.cases")
    now = dt.datetime.now(dt.UTC)
    ordered = {
        # Two filters ordered by score: the index yields the rows in order, no sort.
        "cases_kind_status_score": listed(kind="bottleneck", status="pending", order="score"),
        "cases_domain_created": listed(
            domain="domain 3", created_after=now - dt.timedelta(days=2), limit=20
        ),
        "cases_entity_created": listed(entity="acct:7", limit=20),
        "cases_open_sla": listed(sla_breached=True, now=now, order="sla_deadline"),
        "cases_severity": listed(order="severity", limit=20),
        "cases_updated": listed(order="updated_at", limit=20),
    }
    for index, stmt in ordered.items():
        plan = traced(database_url, tid, stmt)
        assert index in plan, plan
        assert "Sort Key" not in plan and "Seq Scan on cases" not in plan, plan
    # A later page starts at the cursor inside the index, not by skipping rows.
    first = sync_ledger.tenant(tid).cases.list(kind="bottleneck", status="pending", order="score")
    after = listed(kind="bottleneck", status="pending", order="score", cursor=first.next_cursor)
    plan = traced(database_url, tid, after)
    assert re.search(r"Index Cond: .*ROW\(COALESCE\(score", plan), plan
    # The counts read the tallies only; the durations the open-only and resolved indexes.
    counts = explained(database_url, tid, Q.case_counts.all(kind=None, domain=None))
    assert "case_tallies" in counts and not re.search(r"\bon cases\b", counts), counts
    durations = explained(
        database_url,
        tid,
        Q.case_durations.one(
            kind=None, domain=None, now=now, since=now - dt.timedelta(days=1), until=now
        ),
    )
    assert "cases_open_sla" in durations and "cases_resolved" in durations, durations
    assert "Seq Scan on cases" not in durations, durations
