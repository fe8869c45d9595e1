"""Memory search plans use the intended indexes: EXPLAIN of the search functions' bodies, as
the owner they run as (SECURITY DEFINER), with the tenant bound (see bench.plans)."""

from __future__ import annotations

from typing import Any

import psycopg
from bench.plans import body_plan

from agentledger import Filter, NewEntity
from agentledger.memory import filters, ops


def plan(owner_url: str, tenant: str, function: str, params: dict[str, Any]) -> str:
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        conn.execute("SELECT set_config('pg_trgm.similarity_threshold', '0.3', true)")
        return body_plan(conn, function, params)


def test_user_scoped_searches_use_the_scope_indexes(
    sync_ledger: Any, tenant_id: str, database_url: str
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
        owner.execute("VACUUM ANALYZE agentledger.memory_entities")
    scope = {**filters.params(Filter(user="u7")), "limit": 10}
    hybrid = {"query": "budget", "pool": 20, "text_cap": ops.TEXT_CANDIDATES, "rrf_k": ops.RRF_K}
    for function, params in (
        ("memory_search_hybrid_v1", {**scope, **hybrid}),
        ("memory_search_text_v1", {**scope, "query": "budget"}),
    ):
        shown = plan(database_url, tenant_id, function, params)
        assert "memory_entities_user_idx" in shown, shown
        assert "memory_entities_shared_idx" in shown, shown
        assert "Seq Scan on memory_entities" not in shown, shown
    # With the similarity operator indexable, a name search whose every row matches may
    # walk the trigram index in distance order instead (it stops at the limit).
    shown = plan(database_url, tenant_id, "memory_search_name_v1", {**scope, "name": "persn 7"})
    assert "memory_entities_user_idx" in shown or "memory_entities_name_trgm_idx" in shown, shown
    assert "Seq Scan on memory_entities" not in shown, shown
    # The scoped searches still fill their limit.
    assert len(mem.search("budget", filter=Filter(user="u7"), limit=10)) == 10


def test_unscoped_fuzzy_and_text_searches_use_their_indexes(
    sync_ledger: Any, tenant_id: str, database_url: str
) -> None:
    """The finding memory_0003 fixes: under RLS the planner could not use % or @@ as index
    conditions and scanned the tenant; in the definer functions' bodies they drive the
    trigram and GIN indexes."""
    mem = sync_ledger.tenant(tenant_id).memory
    mem.upsert_many(
        NewEntity(
            kind="contact",
            name=f"person {i} {'zeppelin' if i % 100 == 0 else 'plan'}",
            summary=f"note {i} on the {'zeppelin' if i % 100 == 0 else 'roadmap'}",
            user_id=f"u{i % 50}",
        )
        for i in range(4000)
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("VACUUM ANALYZE agentledger.memory_entities")
    unscoped = {**filters.params(None), "limit": 10}
    name = plan(database_url, tenant_id, "memory_search_name_v1", {**unscoped, "name": "persn 7"})
    assert "memory_entities_name_trgm_idx" in name, name
    # The trigram operator is an index condition or the index's KNN order, not a filter
    # applied to every row of a scan.
    assert "Seq Scan" not in name, name
    text = plan(database_url, tenant_id, "memory_search_text_v1", {**unscoped, "query": "zeppelin"})
    assert "memory_entities_search_idx" in text, text
    assert "Index Cond: (search @@" in text or "Recheck Cond: (search @@" in text, text
    assert "Seq Scan" not in text, text
    hybrid = {"query": "zeppelin", "pool": 20, "text_cap": ops.TEXT_CANDIDATES, "rrf_k": ops.RRF_K}
    both = plan(database_url, tenant_id, "memory_search_hybrid_v1", {**unscoped, **hybrid})
    assert "memory_entities_search_idx" in both, both
    assert "memory_entities_name_trgm_idx" in both, both
    assert "Seq Scan on memory_entities" not in both, both
    assert len(mem.search_text("zeppelin", limit=100)) == 40
