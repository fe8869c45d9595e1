"""Memory search through the SECURITY DEFINER functions (memory_0003): they bypass RLS, so
they must keep tenants (and users) apart themselves."""

from __future__ import annotations

import random
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from agentledger import EMBEDDING_DIMENSIONS, Filter, Ledger
from agentledger.memory import filters, ops, search

# The definer functions that need only core PostgreSQL and pg_trgm, then those on pgvector.
PLAIN_FUNCTIONS = (
    "memory_search_name_v1",
    "memory_search_text_v1",
    "memory_search_hybrid_v1",
    "memory_search_name_v2",
    "memory_search_hybrid_v2",
    "memory_search_substring_v1",
    "memory_search_name_v3",
    "memory_search_text_v2",
    "memory_search_hybrid_v3",
    "memory_search_substring_v2",
    "memory_search_text_v3",
    "memory_search_substring_v3",
    "memory_search_name_v4",
    "memory_search_hybrid_v4",
    "memory_search_text_v4",
    "memory_search_substring_v4",
    "memory_search_hybrid_v5",
    "memory_search_text_v5",
    "memory_search_hybrid_v6",
    "memory_search_text_v6",
)
VECTOR_FUNCTIONS = (
    "memory_search_vector_v1",
    "memory_search_hybrid_vector_v1",
    "memory_search_hybrid_vector_v2",
    "memory_search_vector_v2",
    "memory_search_hybrid_vector_v3",
    "memory_search_vector_v3",
    "memory_search_hybrid_vector_v4",
    "memory_search_vector_v4",
    "memory_search_hybrid_vector_v5",
    "memory_search_vector_v5",
    "memory_search_hybrid_vector_v6",
    "memory_search_hybrid_vector_v7",
)
FUZZY = {"threshold": 0.3, "cap": search.NAME_CANDIDATES}


def unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(EMBEDDING_DIMENSIONS)]


def twin(mem: Any, vectors: bool, **extra: Any) -> Any:
    """The same entity, as each tenant will store it."""
    return mem.upsert(
        "contact",
        "John Smith",
        summary="budget meeting in Berlin",
        embedding=unit(1) if vectors else None,
        **extra,
    )


def test_no_search_returns_another_tenants_entity(ledger: Ledger, tenant_id: str) -> None:
    vectors = "vector" in ledger.db.extensions
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other, "Other")
    mine = twin(ledger.tenant(tenant_id).memory, vectors)
    twin(ledger.tenant(other).memory, vectors, shared=True)
    mem = ledger.tenant(tenant_id).memory
    results = [
        mem.find_by_name("Jon Smith"),
        mem.search_text("budget"),
        mem.search("John Smith budget"),
        mem.find_by_name("Jon Smith", filter=Filter(user="u1")),
        mem.search("John Smith budget", filter=Filter(user="u1")),
    ]
    if vectors:
        results += [
            mem.search_vector(unit(1)),
            mem.search("John Smith budget", embedding=unit(1)),
        ]
    for hits in results:
        assert [h.entity.id for h in hits] == [mine.id]


def call(conn: psycopg.Connection[Any], statement: Any, **params: Any) -> list[Any]:
    rows = conn.execute(statement.sql, {**filters.params(params.pop("flt", None)), **params})
    return [r["id"] for r in rows.fetchall()]


@pytest.mark.parametrize("tenant", [None, ""])
def test_an_unbound_caller_finds_nothing(
    sync_ledger: Any, tenant_id: str, app_url: str, tenant: str | None
) -> None:
    twin(sync_ledger.tenant(tenant_id).memory, False)
    hybrid = {
        "pool": 20,
        "text_cap": search.TEXT_CANDIDATES,
        "rrf_k": search.RRF_K,
        "limit": 10,
        **FUZZY,
    }
    with psycopg.connect(app_url, row_factory=dict_row) as conn, conn.transaction():
        if tenant is not None:
            conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        assert call(conn, ops.Q.find_by_name, name="John Smith", limit=10, **FUZZY) == []
        assert call(conn, ops.Q.search_text, query="budget", limit=10) == []
        assert call(conn, ops.Q.search_hybrid, query="John Smith", **hybrid) == []


def test_a_direct_call_as_the_app_role_sees_only_the_bound_tenant(
    sync_ledger: Any, tenant_id: str, app_url: str
) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(other, "Other")
    twin(sync_ledger.tenant(tenant_id).memory, False, shared=True)
    theirs = twin(sync_ledger.tenant(other).memory, False)
    private = twin(sync_ledger.tenant(other).memory, False, user="u2")
    hybrid = {
        "pool": 20,
        "text_cap": search.TEXT_CANDIDATES,
        "rrf_k": search.RRF_K,
        "limit": 10,
        **FUZZY,
    }
    with psycopg.connect(app_url, row_factory=dict_row) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [other])
        both = {theirs.id, private.id}
        assert set(call(conn, ops.Q.find_by_name, name="John Smith", limit=10, **FUZZY)) == both
        assert set(call(conn, ops.Q.search_text, query="budget", limit=10)) == both
        assert set(call(conn, ops.Q.search_hybrid, query="John Smith", **hybrid)) == both
        # User scoping holds inside the function too: u1 sees the tenant's row, not u2's.
        u1 = Filter(user="u1")
        assert call(conn, ops.Q.find_by_name, name="John Smith", limit=10, flt=u1, **FUZZY) == [
            theirs.id
        ]
        assert call(conn, ops.Q.search_hybrid, query="budget", flt=u1, **hybrid) == [theirs.id]


def test_only_the_app_role_may_execute_the_functions(sync_ledger: Any, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT p.proname, p.prosecdef, p.proconfig, p.proacl::text[]"
            " FROM pg_proc p WHERE p.pronamespace = 'agentledger'::regnamespace"
            " AND p.proname LIKE 'memory_search_%%'"
        ).fetchall()
    vector = "vector" in sync_ledger.db.extensions
    expected = set(PLAIN_FUNCTIONS + (VECTOR_FUNCTIONS if vector else ()))
    assert {r[0] for r in rows} == expected
    for name, definer, config, acl in rows:
        assert definer, name
        assert "search_path=pg_catalog, pg_temp" in config, (name, config)
        # No grant to PUBLIC ("=X/owner"); EXECUTE for the app role.
        assert not any(entry.startswith("=") for entry in acl), (name, acl)
        assert any(entry.startswith("agentledger_app=X/") for entry in acl), (name, acl)
    # The fuzzy candidate helper serves the definer functions only.
    with psycopg.connect(database_url) as conn:
        allowed = conn.execute(
            "SELECT has_function_privilege('agentledger_app', p.oid, 'EXECUTE')"
            " FROM pg_proc p WHERE p.pronamespace = 'agentledger'::regnamespace"
            " AND p.proname LIKE 'memory_fuzzy_v%%' ORDER BY p.proname"
        ).fetchall()
    assert allowed == [(False,), (False,), (False,)]
    # Nor do the language helpers of the text searches (memory_0015, sessions_0005).
    with psycopg.connect(database_url) as conn:
        helpers = conn.execute(
            "SELECT p.proname, has_function_privilege('agentledger_app', p.oid, 'EXECUTE')"
            " FROM pg_proc p WHERE p.pronamespace = 'agentledger'::regnamespace"
            " AND (p.proname LIKE '%%text_configs_v%%' OR p.proname LIKE 'memory_tsquery_v%%')"
            " ORDER BY p.proname"
        ).fetchall()
    assert helpers == [
        ("memory_text_configs_v1", False),
        ("memory_tsquery_v1", False),
        ("session_text_configs_v1", False),
    ]
    if vector:  # nor does the nearest-neighbour pass of the spaces (memory_0013, 0014)
        with psycopg.connect(database_url) as conn:
            nearest = conn.execute(
                "SELECT has_function_privilege('agentledger_app', p.oid, 'EXECUTE')"
                " FROM pg_proc p WHERE p.pronamespace = 'agentledger'::regnamespace"
                " AND p.proname IN ('memory_nearest_v1', 'memory_nearest_v2')"
            ).fetchall()
        assert nearest == [(False,), (False,)]
