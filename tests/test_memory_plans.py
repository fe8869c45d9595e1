"""Memory search plans use the intended indexes: EXPLAIN of the search functions' bodies, as
the owner they run as (SECURITY DEFINER), with the tenant bound (see bench.plans)."""

from __future__ import annotations

import json
import random
import re
import string
from typing import Any

import psycopg
from bench.plans import body_plan, traced_plans

from agentledger import Filter, NewEntity
from agentledger.memory import filters, ops, search, statistics


def plan(owner_url: str, tenant: str, function: str, params: dict[str, Any]) -> str:
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        conn.execute("SELECT set_config('pg_trgm.similarity_threshold', '0.3', true)")
        return body_plan(conn, function, params)


def traced(owner_url: str, tenant: str, statement: Any, params: dict[str, Any]) -> str:
    """The plans of every statement of a library query, as the owner, tenant bound."""
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        return traced_plans(conn, statement.sql, params)


FUZZY = {"threshold": 0.3, "cap": search.NAME_CANDIDATES}


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
        owner.execute("VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_name_terms")
    scope = {**filters.params(Filter(user="u7")), "limit": 10}
    shown = traced(database_url, tenant_id, ops.Q.search_text, {**scope, "query": "budget"})
    assert "memory_entities_user_idx" in shown, shown
    assert "memory_entities_shared_idx" in shown, shown
    assert "Seq Scan on memory_entities" not in shown, shown
    # The own scope reads the user's entities alone (memory_0011), whatever the tenant holds.
    own = {**filters.params(Filter(user="u7", scope="own")), "limit": 10}
    for statement, args in (
        (ops.Q.search_text, {**own, "query": "budget"}),
        (ops.Q.find_by_substring, {**own, "pattern": "%budget%"}),
    ):
        shown = traced(database_url, tenant_id, statement, args)
        # By an index on (tenant_id, user_id): user_idx or the dedup key's, equally narrow.
        assert "AND (user_id = 'u7'::text))" in shown, shown
        assert "gin" not in shown and "search_idx" not in shown, shown
        assert "Seq Scan on memory_entities" not in shown, shown
    assert len(mem.search_text("budget", filter=Filter(user="u7", scope="own"), limit=100)) == 80
    assert (
        len(mem.find_by_substring("budget", filter=Filter(user="u7", scope="own"), limit=100)) == 80
    )
    # Fuzzy names read the user's lexemes in the name-word index (memory_0004).
    hybrid = {
        "query": "budget",
        "pool": 20,
        "text_cap": search.TEXT_CANDIDATES,
        "rrf_k": search.RRF_K,
    }
    for statement, params in (
        (ops.Q.search_hybrid, {**scope, **hybrid, **FUZZY}),
        (ops.Q.find_by_name, {**scope, **FUZZY, "name": "persn 7"}),
    ):
        shown = traced(database_url, tenant_id, statement, params)
        assert "memory_entities_name_words_idx" in shown, shown
        assert f"{tenant_id} u7 " in shown, shown  # the user's own lexemes
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
        owner.execute("VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_name_terms")
    unscoped = {**filters.params(None), "limit": 10}
    name = traced(
        database_url, tenant_id, ops.Q.find_by_name, {**unscoped, **FUZZY, "name": "persn 7"}
    )
    # Close words come from the trigram index of the word dictionary; names from the GIN
    # index of their words: no scan of the table, or of the dictionary.
    assert "memory_name_terms_trgm_idx" in name, name
    assert "memory_entities_name_words_idx" in name, name
    assert "Seq Scan" not in name, name
    text = traced(database_url, tenant_id, ops.Q.search_text, {**unscoped, "query": "zeppelin"})
    assert "memory_entities_search_idx" in text, text
    assert "Index Cond: (search @@" in text or "Recheck Cond: (search @@" in text, text
    assert "Seq Scan" not in text, text
    hybrid = {
        "query": "zeppelin",
        "pool": 20,
        "text_cap": search.TEXT_CANDIDATES,
        "rrf_k": search.RRF_K,
    }
    both = traced(database_url, tenant_id, ops.Q.search_hybrid, {**unscoped, **hybrid, **FUZZY})
    assert "memory_entities_search_idx" in both, both
    assert "memory_entities_name_words_idx" in both, both
    assert "Seq Scan on memory_entities" not in both, both
    assert len(mem.search_text("zeppelin", limit=100)) == 40


def test_a_listing_filtered_by_a_rare_attribute_uses_the_attrs_index(
    sync_ledger: Any, tenant_id: str, database_url: str
) -> None:
    """The finding memory_0005 fixes: under RLS ``attrs @>`` could not be an index condition,
    so a listing walked the tenant newest first; in the definer function it reads the GIN
    index of attrs."""
    mem = sync_ledger.tenant(tenant_id).memory
    mem.upsert_many(
        NewEntity(
            kind="deal",
            name=f"deal {i}",
            attrs={"stage": "won" if i % 400 == 0 else "lead"},
            tags=["rare"] if i % 400 == 0 else [],
        )
        for i in range(4000)
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_name_terms")
    rare = Filter(attrs={"stage": "won"})
    params = {**filters.params(rare), "after_updated": None, "after_id": None, "limit": 10}
    params["attrs"] = json.dumps(params["attrs"])  # a literal in the EXPLAIN
    shown = plan(database_url, tenant_id, "memory_list_v3", params)
    assert "memory_entities_attrs_idx" in shown, shown
    tagged = {**params, **filters.params(Filter(tags=["rare"])), "attrs": None}
    shown = plan(database_url, tenant_id, "memory_list_v3", tagged)
    assert "memory_entities_tags_idx" in shown, shown
    # Same rows through the library, pages and all.
    first = mem.list(rare, limit=6)
    rest = mem.list(rare, after=first[-1], limit=6)
    assert len(first) == 6 and len(rest) == 4
    assert {e.attrs["stage"] for e in first + rest} == {"won"}
    assert len({e.id for e in first + rest}) == 10


def test_a_listing_of_one_batch_stops_at_its_page(
    sync_ledger: Any, tenant_id: str, database_url: str
) -> None:
    """The finding memory_0016 fixes: a batch shares one ``updated_at``, and with indexes that
    ended there the planner sorted the tie by id, reading every older row to see it end."""
    mem = sync_ledger.tenant(tenant_id).memory
    mem.upsert_many(NewEntity(kind="note", name=f"old {i}") for i in range(3000))
    mem.upsert_many(
        NewEntity(kind="note", name=f"new {i}", tags=["batch"], attrs={"team": f"t{i % 3}"})
        for i in range(1500)
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("VACUUM ANALYZE agentledger.memory_entities")
    where = Filter(tags=["batch"], attrs={"team": "t0"})
    params = {**filters.params(where), "after_updated": None, "after_id": None, "limit": 10}
    params["attrs"] = json.dumps(params["attrs"])
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
        # The listing's order read from an index, as the planner does when it underestimates
        # the matches (here, on a small table, it may as well scan and sort).
        for plan_type in ("seqscan", "bitmapscan", "sort", "incremental_sort"):
            conn.execute(f"SET LOCAL enable_{plan_type} = off")
        shown = body_plan(conn, "memory_list_v3", params, analyze=True)
    assert "memory_entities_updated_idx" in shown, shown
    assert "Sort" not in shown, shown
    removed = [int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", shown)]
    assert sum(removed) < 100, shown  # not the 3,000 older rows
    page = mem.list(where, limit=10)
    assert [e.id for e in page] == sorted((e.id for e in page), reverse=True)
    assert {e.attrs["team"] for e in page} == {"t0"}
    rest = mem.list(where, after=page[-1], limit=1000)
    assert len(page) + len(rest) == 500
    assert not {e.id for e in page} & {e.id for e in rest}


def test_a_bulk_batch_refreshes_the_planners_figures(
    sync_ledger: Any, tenant_id: str, database_url: str
) -> None:
    """memory_0017: a batch large against what the planner believes the table holds
    analyzes it at once; a small one does not (nor does a second caller wait). memory_0018:
    the columns only; the name-words expression's figures wait for a full ANALYZE."""

    def measured() -> float:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'agentledger.memory_entities'::regclass"
            ).fetchone()
            assert row is not None
            return float(row[0])

    def expression_terms() -> str:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT most_common_elems::text FROM pg_stats WHERE schemaname = 'agentledger'"
                " AND tablename = 'memory_entities_name_words_idx'"
            ).fetchone()
            return "" if row is None or row[0] is None else str(row[0])

    mem = sync_ledger.tenant(tenant_id).memory
    word = "".join(random.choices(string.ascii_lowercase, k=10))  # this run's own name word
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("ANALYZE agentledger.memory_entities")
    before = measured()
    mem.upsert_many(NewEntity(kind="note", name=f"few {i}") for i in range(10))
    assert measured() == before
    result = mem.upsert_many(
        NewEntity(kind="note", name=f"{word} {i}") for i in range(max(1500, int(before) // 5))
    )
    assert measured() >= before + result.inserted
    assert word not in expression_terms()
    # Called again at once, with the figures fresh: nothing to do.
    assert (
        sync_ledger.tenant(tenant_id)._run(statistics.refresh_stats(result.inserted // 100))
        is False
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("ANALYZE agentledger.memory_entities")
    assert word in expression_terms()
