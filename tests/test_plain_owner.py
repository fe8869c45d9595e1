"""A database migrated by a plain owner: a role that is neither superuser nor BYPASSRLS, as a
managed service's administrator is (RDS, Cloud SQL, Azure). Row-level security applies to
it like to anyone, so the definer functions that run before a tenant is bound must still
find what they look for: API keys, console sign-ins, and the tenants they belong to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from agentledger import Ledger, NotFound, Settings
from agentledger.api import create_app
from agentledger.db import migrate
from tests.conftest import with_database
from tests.http_server import client, serve


@pytest.fixture(scope="module")
def plain_url(server_url: str) -> Iterator[str]:
    """A fresh database owned, and migrated, by a plain role (its extensions installed by
    the server's administrator first, as a managed service does)."""
    role = f"al_owner_{uuid.uuid4().hex[:8]}"
    name = f"al_plain_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(server_url, autocommit=True) as su:
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        su.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    admin = with_database(server_url, name)
    with psycopg.connect(admin, autocommit=True) as su:
        for extension in ("pg_trgm", "vector"):
            available = su.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = %s", [extension]
            ).fetchone()
            if available:
                su.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)))
    parts = urlsplit(admin)
    port = "" if parts.port is None else f":{parts.port}"
    url = urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.hostname}{port}"))
    migrate.upgrade(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as su:
        su.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        su.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def plain_settings(plain_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data: Path = tmp_path_factory.mktemp("plain")
    return Settings.build(database_url=plain_url, data_dir=data)


def test_the_owner_is_plain_and_owns_the_tables(plain_url: str) -> None:
    with psycopg.connect(plain_url) as conn:
        me = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        owner = conn.execute(
            "SELECT tableowner = current_user FROM pg_tables"
            " WHERE schemaname = 'agentledger' AND tablename = 'api_keys'"
        ).fetchone()
    assert me == (False, False) and owner == (True,)


def test_keys_and_sign_ins_are_found(plain_settings: Settings) -> None:
    with Ledger(plain_settings, migrate=False) as ledger:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        ledger.tenants.create(tenant)
        created = ledger.tenant(tenant).keys.create(role="writer")
        identity = ledger.tenants.authenticate(created.secret)
        assert identity is not None and identity.tenant_id == tenant
        opened = ledger.tenants.sign_in(created.secret)
        assert opened is not None
        assert ledger.tenants.signed_in(opened.token) == opened
        assert ledger.tenants.sign_out(opened.token) is True
        assert ledger.tenants.signed_in(opened.token) is None
        ledger.tenant(tenant).keys.revoke(created.key.id)
        assert ledger.tenants.authenticate(created.secret) is None


def test_the_api_and_console_serve_a_key(plain_settings: Settings) -> None:
    with Ledger(plain_settings, migrate=False) as ledger:
        tenant, other = (f"t-{uuid.uuid4().hex[:8]}" for _ in range(2))
        for tid in (tenant, other):
            ledger.tenants.create(tid)
        key = ledger.tenant(tenant).keys.create(role="writer").secret
        ledger.tenant(other).events.append("theirs", "Secret", {})
    with serve(create_app(plain_settings)) as base:
        with client(base, key) as api:  # the tests' client: patient on a busy machine
            appended = api.post("/v1/events", json={"stream": "s", "type": "T", "payload": {}})
            assert appended.status_code == 201, appended.text
            listed = api.get("/v1/events").json()["items"]
        assert [e["type"] for e in listed] == ["T"]  # its own tenant's events, no other's
        with client(base) as browser:
            signed = browser.post("/console/login", data={"key": key}, follow_redirects=True)
            assert signed.status_code == 200 and "<h1>Overview</h1>" in signed.text


def test_every_module_works_for_its_tenant_only(plain_settings: Settings) -> None:
    """One call of each module's that reads through a definer function or across a
    tenant's rows, for two tenants holding the same things: each sees only its own."""
    with Ledger(plain_settings, migrate=False) as ledger:
        mine, theirs = (f"t-{uuid.uuid4().hex[:8]}" for _ in range(2))
        made: dict[str, dict[str, object]] = {}
        for tid in (mine, theirs):
            ledger.tenants.create(tid)
            scope = ledger.tenant(tid)
            entity = scope.memory.upsert("note", "Zelda Quinn", summary="renewal of the contract")
            session = scope.sessions.create("kickoff")
            scope.sessions.add_chunk(session.id, "we talked about the renewal")
            scope.cases.define_kind("bug", ["open", "closed"], transitions={"open": ["closed"]})
            case = scope.cases.create("bug", "renewal fails", domain="billing")
            scope.catalog.create_version("policy", "refunds", {"days": 30})
            scope.tasks.enqueue("work", {"n": 1})
            scope.events.append("s", "Happened", {})
            made[tid] = {"entity": entity.id, "session": session.id, "case": case.id}
        scope = ledger.tenant(mine)
        memory = scope.memory
        assert [h.entity.id for h in memory.search_text("renewal")] == [made[mine]["entity"]]
        assert [h.entity.id for h in memory.find_by_name("Zelda Quin")] == [made[mine]["entity"]]
        assert [h.entity.id for h in memory.search("Zelda renewal")] == [made[mine]["entity"]]
        assert [e.id for e in memory.list()] == [made[mine]["entity"]]
        hits = scope.sessions.search("renewal")
        assert [h.session_id for h in hits] == [made[mine]["session"]]
        assert [c.id for c in scope.cases.list().items] == [made[mine]["case"]]
        assert scope.cases.aggregates().total == 1
        assert [d.name for d in scope.catalog.list_documents()] == ["refunds"]
        log = scope.events.read_all(0)
        assert "Happened" in [e.type for e in log]
        assert {e.stream for e in log} >= {"s", f"case:{made[mine]['case']}"}
        assert not {e.stream for e in log} & {f"case:{made[theirs]['case']}"}
        claimed = ledger.platform_tasks.claim("work", limit=10)
        assert sorted(t.tenant_id for t in claimed) == sorted([mine, theirs])


def test_a_tenant_is_purged_under_the_forced_policies(plain_settings: Settings) -> None:
    """The purge deletes as the owner, which the tables' policies hold like anyone."""
    with Ledger(plain_settings, migrate=False) as ledger:
        gone, kept = (f"t-{uuid.uuid4().hex[:8]}" for _ in range(2))
        for tid in (gone, kept):
            ledger.tenants.create(tid)
            scope = ledger.tenant(tid)
            scope.memory.upsert("note", "Zelda Quinn")
            scope.cases.define_kind("bug", ["open", "closed"], transitions={"open": ["closed"]})
            scope.cases.create("bug", "renewal fails")
            scope.keys.create(role="reader")
        held = ledger.tenants.rows(kept)
        assert ledger.tenants.rows(gone) == held and held["agentledger.events"] == 1
        ledger.tenants.archive(gone)
        deleted = ledger.tenants.purge(gone).deleted
        # Deleting the case changes its tallies (a delta, or a fold), deleted next.
        tallies = ("agentledger.case_tallies", "agentledger.case_tally_deltas")
        assert {t: n for t, n in deleted.items() if t not in tallies} == {
            t: n for t, n in held.items() if t not in tallies
        }
        with pytest.raises(NotFound):
            ledger.tenants.get(gone)
        assert ledger.tenants.rows(kept) == held


def test_migrating_gives_the_app_role_its_configured_password(
    server_url: str, tmp_path: Path
) -> None:
    """A server that asks for passwords (every managed service) lets the app role in only
    with one: opening a ledger that migrates sets it from AGENTLEDGER_APP_PASSWORD, sent as
    a SCRAM verifier, and migrating again sets a changed one."""
    role, name = f"al_app_{uuid.uuid4().hex[:8]}", f"al_pw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as su:
        su.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)

    def verifier() -> str:
        with psycopg.connect(server_url) as su:
            row = su.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
            found = row.fetchone()
        assert found is not None and found[0] is not None
        return str(found[0])

    try:
        settings = Settings.build(
            database_url=url, data_dir=tmp_path, app_role=role, app_password="first-secret"
        )
        with Ledger(settings) as ledger:  # migrates the fresh database, then connects as role
            ledger.tenants.create("acme")
        first = verifier()
        assert first.startswith("SCRAM-SHA-256$") and "first-secret" not in first
        migrate.upgrade(url, app_role=role, app_password="second-secret")
        assert verifier().startswith("SCRAM-SHA-256$") and verifier() != first
    finally:
        with psycopg.connect(server_url, autocommit=True) as su:
            su.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
