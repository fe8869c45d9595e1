"""The search functions when the migration role is a plain (non-superuser) table owner: the
tables FORCE row-level security, so the owner reads through its own ``definer_search``
policy, and the functions still keep tenants apart and use their indexes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from bench.plans import traced_plans
from psycopg import sql

from agentledger import NewEntity
from agentledger.memory import filters, ops, search
from tests.test_memory_definer import PLAIN_FUNCTIONS, VECTOR_FUNCTIONS


@pytest.fixture
def plain_owner(sync_ledger: Any, database_url: str) -> Iterator[str]:
    """Hand the entities and name-word tables, their policies and the search functions to a
    plain role."""
    role = f"al_plain_{uuid.uuid4().hex[:8]}"
    ident = sql.Identifier(role)
    with psycopg.connect(database_url, autocommit=True) as su:
        me = su.execute("SELECT current_user").fetchone()
        assert me is not None
        back = sql.Identifier(me[0])
        names = [
            r[0]
            for r in su.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p"
                " WHERE p.proname = ANY(%s) AND p.pronamespace = 'agentledger'::regnamespace",
                [
                    [
                        *PLAIN_FUNCTIONS,
                        *VECTOR_FUNCTIONS,
                        "memory_fuzzy_v1",
                        "memory_fuzzy_v2",
                        "memory_fuzzy_v3",
                        "memory_list_v2",
                        "memory_list_v3",
                        "memory_nearest_v1",
                        "memory_nearest_v2",
                        "memory_declare_space_v1",
                        "memory_declare_space_v2",
                        "memory_drop_space_v1",
                        "memory_text_configs_v1",
                        "memory_tsquery_v1",
                    ]
                ],
            )
        ]

        def hand_to(who: sql.Identifier) -> None:
            for table in ("memory_entities", "memory_name_terms", *vector_tables):
                name = sql.Identifier("agentledger", table)
                su.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(name, who))
                su.execute(sql.SQL("ALTER POLICY definer_search ON {} TO {}").format(name, who))
            # The tenant's settings and spaces are read under the tenant policy.
            for table in ("memory_settings", "memory_kind_languages", "memory_spaces"):
                name = sql.Identifier("agentledger", table)
                su.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(name, who))
            for fn in names:
                su.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(sql.SQL(fn), who))

        vector_tables = ("memory_vectors",) if "vector" in sync_ledger.db.extensions else ()
        su.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS").format(ident))
        try:
            su.execute(sql.SQL("GRANT USAGE ON SCHEMA agentledger TO {}").format(ident))
            hand_to(ident)
            yield role
        finally:
            hand_to(back)
            su.execute(sql.SQL("REVOKE USAGE ON SCHEMA agentledger FROM {}").format(ident))
            su.execute(sql.SQL("DROP ROLE {}").format(ident))


def test_a_plain_owner_keeps_tenants_apart_and_uses_the_indexes(
    sync_ledger: Any, tenant_id: str, plain_owner: str, database_url: str
) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(other, "Other")
    rows = [
        NewEntity(kind="contact", name=f"person {i} plan", summary=f"note {i} on the roadmap")
        for i in range(3000)
    ]
    sync_ledger.tenant(tenant_id).memory.upsert_many(rows)
    mine = sync_ledger.tenant(tenant_id).memory.upsert("contact", "Zelda Quinn", by_name=True)
    theirs = sync_ledger.tenant(other).memory.upsert("contact", "Zelda Quinn", by_name=True)
    for tid, expected in ((tenant_id, mine.id), (other, theirs.id)):
        mem = sync_ledger.tenant(tid).memory
        assert [h.entity.id for h in mem.find_by_name("Zelda Quin")] == [expected]
        assert [h.entity.id for h in mem.search_text("zelda")] == [expected]
        assert [h.entity.id for h in mem.search("Zelda Quinn")] == [expected]
    with psycopg.connect(database_url, autocommit=True) as su:
        su.execute("VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_name_terms")
    unscoped = {**filters.params(None), "limit": 10}
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
        text = traced_plans(
            conn, ops.Q.search_text.sql, {**unscoped, "query": "zelda"}, role=plain_owner
        )
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
        name = traced_plans(
            conn,
            ops.Q.find_by_name.sql,
            {**unscoped, "name": "Zelda Quin", "threshold": 0.3, "cap": search.NAME_CANDIDATES},
            role=plain_owner,
        )
    assert "memory_entities_name_words_idx" in name and "Seq Scan" not in name, name
    assert "memory_entities_search_idx" in text and "Seq Scan" not in text, text
