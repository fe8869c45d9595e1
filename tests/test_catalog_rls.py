"""The catalog's row-level security, checked by raw SQL as the application role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from agentledger import Ledger

GLOBAL_TABLES = ("catalog_global_documents", "catalog_global_versions", "catalog_global_schemas")


@pytest.fixture
def two_tenants(sync_ledger: Ledger) -> tuple[str, str]:
    a = sync_ledger.tenants.create(f"a-{uuid.uuid4().hex[:8]}").id
    b = sync_ledger.tenants.create(f"b-{uuid.uuid4().hex[:8]}").id
    return a, b


@pytest.fixture
def pack(sync_ledger: Ledger) -> Iterator[str]:
    """A global domain pack with two versions."""
    name = f"pack-{uuid.uuid4().hex[:8]}"
    platform = sync_ledger.platform_catalog
    platform.create_version("domain_pack", name, {"v": 1})
    platform.create_version("domain_pack", name, {"v": 2})
    yield name
    platform.delete_document("domain_pack", name)


def _bound(conn: psycopg.Connection[tuple[object, ...]], tenant: str) -> None:
    conn.execute("SELECT agentledger.bind_tenant(%s)", (tenant,))


def test_a_tenant_reads_global_rows_and_cannot_write_them(
    app_url: str, two_tenants: tuple[str, str], pack: str
) -> None:
    a, _ = two_tenants
    with psycopg.connect(app_url) as conn:
        _bound(conn, a)
        versions = conn.execute(
            "SELECT version FROM agentledger.catalog_global_versions WHERE name = %s "
            "ORDER BY version",
            (pack,),
        ).fetchall()
        assert versions == [(1,), (2,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            conn.execute(
                "INSERT INTO agentledger.catalog_global_documents "
                "(doc_type, name, latest_version, latest_fingerprint) "
                "VALUES ('domain_pack', 'forged', 1, '\\x00')"
            )
        assert "row-level security" in str(refused.value)
        conn.rollback()
        _bound(conn, a)
        for sql in (
            "UPDATE agentledger.catalog_global_documents SET latest_version = 99 WHERE name = %s",
            "UPDATE agentledger.catalog_global_versions SET content = '{}' WHERE name = %s",
            "DELETE FROM agentledger.catalog_global_versions WHERE name = %s",
            "DELETE FROM agentledger.catalog_global_documents WHERE name = %s",
        ):
            assert conn.execute(sql, (pack,)).rowcount == 0, sql
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as guard:
            conn.execute("SELECT agentledger.catalog_require_platform()")
        assert "platform scope" in str(guard.value)
    with psycopg.connect(app_url) as conn:
        _bound(conn, a)
        row = conn.execute(
            "SELECT latest_version FROM agentledger.catalog_global_documents WHERE name = %s",
            (pack,),
        ).fetchone()
        assert row == (2,)


def test_a_tenant_sees_and_writes_only_its_own_rows(
    app_url: str, sync_ledger: Ledger, two_tenants: tuple[str, str]
) -> None:
    a, b = two_tenants
    sync_ledger.tenant(a).catalog.create_version("tool", "mine", {"type": "email"})
    sync_ledger.tenant(a).catalog.register_schema("tool", {"type": "object"})
    with psycopg.connect(app_url) as conn:
        _bound(conn, b)
        for table in ("catalog_documents", "catalog_versions", "catalog_schemas"):
            count = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM agentledger.{}").format(
                    psycopg.sql.Identifier(table)
                )
            ).fetchone()
            assert count == (0,), table
        assert conn.execute(
            "SELECT count(*) FROM agentledger.catalog_visible_documents WHERE NOT is_global"
        ).fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO agentledger.catalog_documents "
                "(tenant_id, doc_type, name, latest_version, latest_fingerprint) "
                "VALUES (%s, 'tool', 'forged', 1, '\\x00')",
                (a,),
            )


def test_a_connection_bound_to_nothing_sees_no_catalog_row(
    app_url: str, sync_ledger: Ledger, two_tenants: tuple[str, str], pack: str
) -> None:
    sync_ledger.tenant(two_tenants[0]).catalog.create_version("tool", "mine", {})
    with psycopg.connect(app_url) as conn:
        for table in (*GLOBAL_TABLES, "catalog_documents", "catalog_visible_documents"):
            count = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM agentledger.{}").format(
                    psycopg.sql.Identifier(table)
                )
            ).fetchone()
            assert count == (0,), table


def test_the_platform_scope_writes_global_rows(app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('agentledger.platform', 'on', true)")
        conn.execute(
            "INSERT INTO agentledger.catalog_global_documents "
            "(doc_type, name, latest_version, latest_fingerprint) "
            "VALUES ('tool', 'raw', 1, '\\x00')"
        )
        conn.execute("SELECT agentledger.catalog_require_platform()")
        conn.rollback()
