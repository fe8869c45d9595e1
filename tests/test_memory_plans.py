"""Memory search plans use the intended indexes (EXPLAIN as the application role, under RLS)."""

from __future__ import annotations

from typing import Any

import psycopg

from agentledger import Filter, NewEntity
from agentledger.memory import filters, ops


def plan(app_url: str, tenant: str, query: str, params: dict[str, Any]) -> str:
    with psycopg.connect(app_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        conn.execute("SELECT set_config('pg_trgm.similarity_threshold', '0.3', true)")
        rows = conn.execute("EXPLAIN (COSTS OFF) " + query, params).fetchall()
    return "\n".join(r[0] for r in rows)


def test_user_scoped_searches_use_the_scope_indexes(
    sync_ledger: Any, tenant_id: str, app_url: str, database_url: str
) -> None:
    mem = sync_ledger.tenant(tenant_id).memory
    mem.upsert_many(
        NewEntity(
            kind="contact",
            name=f"person {i} budget",
            summary=f"note {i} on the budget and renewal",
            user_id=f"u{i % 50}",
        )
        for i in range(4000)
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("ANALYZE agentledger.memory_entities")
    scope = {**filters.params(Filter(user="u7")), "limit": 10}
    hybrid = {"query": "budget", "pool": 20, "text_cap": ops.TEXT_CANDIDATES, "rrf_k": ops.RRF_K}
    for query, params in (
        (ops.Q.search_hybrid.sql, {**scope, **hybrid}),
        (ops.Q.find_by_name.sql, {**scope, "name": "persn 7"}),
        (ops.Q.search_text.sql, {**scope, "query": "budget"}),
    ):
        shown = plan(app_url, tenant_id, query, params)
        assert "memory_entities_user_idx" in shown, shown
        assert "memory_entities_shared_idx" in shown, shown
        assert "Seq Scan on memory_entities" not in shown, shown
    # The scoped searches still fill their limit.
    assert len(mem.search("budget", filter=Filter(user="u7"), limit=10)) == 10
