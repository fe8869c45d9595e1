"""Migrations: upgrade from empty, downgrade, round trip, offline SQL, concurrent runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from agentledger.db import migrate
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE
from tests.conftest import drop_database, with_database


@pytest.fixture
def empty_url(server_url: str) -> Iterator[str]:
    import uuid

    name = f"al_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    url = with_database(server_url, name)
    yield url
    drop_database(server_url, url)


def _schema(url: str) -> list[tuple[str, ...]]:
    with psycopg.connect(url) as conn:
        return [
            tuple(str(v) for v in row)
            for row in conn.execute(
                """
                SELECT table_name, column_name, data_type, is_nullable
                FROM information_schema.columns WHERE table_schema = 'agentledger'
                ORDER BY 1, 2
                """
            )
        ]


def test_upgrade_from_empty_reaches_heads(empty_url: str) -> None:
    assert migrate.current(empty_url) == set()
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.heads()
    assert migrate.is_current(empty_url)
    tables = {row[0] for row in _schema(empty_url)}
    assert {"tenants", "api_keys"} <= tables


def test_downgrade_to_base_and_back_round_trips(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    before = _schema(empty_url)
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) == set()
    assert _schema(empty_url) == []
    migrate.upgrade(empty_url)
    assert _schema(empty_url) == before


def test_two_concurrent_upgrades_are_safe(empty_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(empty_url)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert migrate.is_current(empty_url)


def test_offline_sql_covers_every_revision() -> None:
    text = migrate.upgrade_sql()
    assert "CREATE TABLE agentledger.tenants" in text
    assert "CREATE POLICY tenant_isolation ON agentledger.api_keys" in text
    assert "%%" not in text


def test_replacing_a_function_in_place_downgrades_to_the_previous_body(empty_url: str) -> None:
    """memory_0006 replaces memory_fuzzy_v1 in place; stepping back restores memory_0004's
    body, and the app role can run it in neither (it is for the definer functions only)."""

    def fuzzy() -> tuple[str, bool]:
        with psycopg.connect(empty_url) as conn:
            row = conn.execute(
                "SELECT prosrc, has_function_privilege(%s, p.oid, 'EXECUTE')"
                " FROM pg_proc p WHERE proname = 'memory_fuzzy_v1'",
                [DEFAULT_APP_ROLE],
            ).fetchone()
        assert row is not None
        return row[0], row[1]

    migrate.upgrade(empty_url)
    body, executable = fuzzy()
    assert "gin_fuzzy_search_limit" in body and not executable
    migrate.downgrade(empty_url, "memory_0005")
    body, executable = fuzzy()
    assert "gin_fuzzy_search_limit" not in body and "p_cap * 4" in body and not executable
    migrate.upgrade(empty_url)
    assert "gin_fuzzy_search_limit" in fuzzy()[0]


def test_fair_claim_versions_step_down_one_by_one(empty_url: str) -> None:
    """tasks_0002 and tasks_0004 each add a claim_tasks_fair version beside the earlier ones;
    a downgrade drops only its own (and tasks_0004's puts the status-named indexes back)."""

    def fair_claims() -> list[str]:
        with psycopg.connect(empty_url) as conn:
            rows = conn.execute(
                "SELECT proname FROM pg_proc WHERE proname LIKE 'claim_tasks_fair_v%' "
                "ORDER BY proname"
            ).fetchall()
        return [row[0] for row in rows]

    def index(name: str) -> str | None:
        with psycopg.connect(empty_url) as conn:
            row = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'agentledger' "
                "AND indexname = %s",
                (name,),
            ).fetchone()
        return None if row is None else str(row[0])

    migrate.upgrade(empty_url)
    assert fair_claims() == ["claim_tasks_fair_v1", "claim_tasks_fair_v2", "claim_tasks_fair_v3"]
    assert "finished_at IS NULL" in (index("tasks_ready") or "")
    assert index("tasks_leases") is None
    migrate.downgrade(empty_url, "tasks_0003")
    assert fair_claims() == ["claim_tasks_fair_v1", "claim_tasks_fair_v2"]
    assert "status = 'pending'" in (index("tasks_ready") or "")
    assert index("tasks_leases") is not None
    migrate.downgrade(empty_url, "tasks_0001")
    assert "tasks_0001" in migrate.current(empty_url)
    assert fair_claims() == ["claim_tasks_fair_v1"]
    migrate.upgrade(empty_url)
    assert fair_claims() == ["claim_tasks_fair_v1", "claim_tasks_fair_v2", "claim_tasks_fair_v3"]
    assert migrate.is_current(empty_url)
