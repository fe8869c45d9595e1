"""Tenant isolation enforced by PostgreSQL itself, checked as the application role."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

TENANT_TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
WHERE n.nspname = 'agentledger' AND c.relkind IN ('r', 'p')
"""


@pytest.fixture
def two_tenants(sync_ledger: Any) -> tuple[str, str]:
    import uuid

    a = sync_ledger.tenants.create(f"a-{uuid.uuid4().hex[:8]}").id
    b = sync_ledger.tenants.create(f"b-{uuid.uuid4().hex[:8]}").id
    for tid in (a, b):
        sync_ledger.tenant(tid).keys.create(role="admin")
    return a, b


def test_app_role_is_neither_superuser_nor_bypassrls(app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False)


def test_every_tenant_table_has_rls_forced(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            TENANT_TABLES_SQL.replace(
                "SELECT c.relname", "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity"
            )
        ).fetchall()
    assert rows, "no tenant tables found"
    assert all(rls and forced for _, rls, forced in rows), rows


def test_unbound_queries_see_nothing(app_url: str, database_url: str, two_tenants: Any) -> None:
    with psycopg.connect(database_url) as owner:
        tables = [r[0] for r in owner.execute(TENANT_TABLES_SQL)]
        total = owner.execute("SELECT count(*) FROM agentledger.api_keys").fetchone()
    assert total is not None and total[0] >= 2
    with psycopg.connect(app_url) as conn:
        for table in tables:
            count = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM agentledger.{}").format(
                    psycopg.sql.Identifier(table)
                )
            ).fetchone()
            assert count == (0,), table


def test_bound_query_without_where_sees_only_its_tenant(app_url: str, two_tenants: Any) -> None:
    a, b = two_tenants
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (a,))
        tenants = {r[0] for r in conn.execute("SELECT tenant_id FROM agentledger.api_keys")}
        assert tenants == {a}
        visible = {r[0] for r in conn.execute("SELECT id FROM agentledger.tenants")}
        assert visible == {a}
        # Writing a row for another tenant is refused by the policy's WITH CHECK.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO agentledger.api_keys (tenant_id, role, prefix, hash) "
                "VALUES (%s, 'admin', 'x', 'x')",
                (b,),
            )


def test_update_and_delete_cannot_reach_another_tenant(app_url: str, two_tenants: Any) -> None:
    a, b = two_tenants
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (a,))
        cur = conn.execute(
            "UPDATE agentledger.api_keys SET name = 'hijacked' WHERE tenant_id = %s", (b,)
        )
        assert cur.rowcount == 0
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (b,))
        names = {r[0] for r in conn.execute("SELECT name FROM agentledger.api_keys")}
        assert "hijacked" not in names
