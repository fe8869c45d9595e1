"""`reporting grant` refuses a login that could act as a role that writes agentledger's
tables, bypasses row-level security or owns them, by any membership: one without
inheritance carries none of the privileges has_table_privilege counts, but SET ROLE still
reaches them. A pg_read_all_data member is accepted and held to its tenants by the
restrictive policy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from agentledger import Ledger
from agentledger.db import reporting
from agentledger.errors import InvalidInput

PASSWORD = "bi-" + uuid.uuid4().hex


@dataclass(frozen=True)
class World:
    a: str
    b: str
    url: str


@pytest.fixture(scope="module")
def world(sync_ledger: Ledger, database_url: str) -> World:
    """Two tenants, each with an event."""
    a = sync_ledger.tenants.create(f"ra-{uuid.uuid4().hex[:8]}").id
    b = sync_ledger.tenants.create(f"rb-{uuid.uuid4().hex[:8]}").id
    for tenant in (a, b):
        sync_ledger.tenant(tenant).events.append("s", "noted", {"of": tenant})
    return World(a=a, b=b, url=database_url)


@pytest.fixture(scope="module")
def logins(database_url: str) -> Iterator[list[str]]:
    """Names of roles made here (cluster-wide), dropped after the module."""
    names: list[str] = []
    yield names
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _connect(world: World, role: str) -> psycopg.Connection[Any]:
    return psycopg.connect(reporting.login_url(world.url, role), password=PASSWORD, autocommit=True)


def _made_login(world: World, logins: list[str], *grants: str, inherit: bool = False) -> str:
    """A login role made by hand (as an administrator would), then given ``grants``: each a
    role it becomes a member of."""
    name = f"bi_{uuid.uuid4().hex[:10]}"
    logins.append(name)
    with psycopg.connect(world.url, autocommit=True) as owner:
        owner.execute(
            sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
                sql.Identifier(name),
                sql.SQL("INHERIT" if inherit else "NOINHERIT"),
                sql.Literal(PASSWORD),
            )
        )
        for role in grants:
            owner.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(name))
            )
    return name


def _reporting_member(world: World, role: str) -> bool:
    with psycopg.connect(world.url) as owner:
        row = owner.execute(
            "SELECT pg_has_role(%s, 'agentledger_reporting', 'MEMBER')", [role]
        ).fetchone()
    return bool(row and row[0])


def test_grant_refuses_a_login_that_could_set_role_to_a_privileged_role(
    world: World, logins: list[str]
) -> None:
    """A membership without inheritance (a NOINHERIT login, or GRANT ... WITH INHERIT
    FALSE) carries none of the app role's privileges, so has_table_privilege sees no write,
    yet SET ROLE reaches the app role, which reads and writes every tenant. Such a login,
    directly or through a group, is refused, and nothing is granted."""
    group = f"bi_{uuid.uuid4().hex[:10]}"  # a NOLOGIN group between a login and the app role
    logins.append(group)
    with psycopg.connect(world.url, autocommit=True) as owner:
        owner.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOINHERIT").format(sql.Identifier(group)))
        owner.execute(sql.SQL("GRANT agentledger_app TO {}").format(sql.Identifier(group)))
    direct = _made_login(world, logins, "agentledger_app")
    chained = _made_login(world, logins, group)
    with psycopg.connect(
        reporting.login_url(world.url, direct), password=PASSWORD, autocommit=True
    ) as conn:  # what the login could do, were it granted
        conn.execute("SET ROLE agentledger_app")
    for role in (direct, chained):
        with pytest.raises(InvalidInput, match=r"member of .*agentledger_app") as refused:
            reporting.grant(world.url, role, tenant_id=world.a)
        assert refused.value.field == "role"
        assert reporting.list_grants(world.url, role) == []
        assert not _reporting_member(world, role)


def test_grant_refuses_a_member_of_a_superuser_or_the_owner(
    world: World, logins: list[str]
) -> None:
    with psycopg.connect(world.url) as owner:
        row = owner.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row is not None
    if not row[1]:
        pytest.skip("the owner is not a superuser: it may not grant membership of itself")
    role = _made_login(world, logins, row[0])
    with pytest.raises(InvalidInput, match=rf"member of .*{row[0]}") as refused:
        reporting.grant(world.url, role, all_tenants=True)
    assert refused.value.field == "role" and reporting.list_grants(world.url, role) == []


def test_a_pg_read_all_data_member_is_granted_and_held_to_its_tenants(
    world: World, logins: list[str]
) -> None:
    """pg_read_all_data reads every table but does not bypass row-level security: the
    restrictive reporting_scope policy keeps such a login to its granted tenant, even on
    the tables themselves and with the tenant setting pointed elsewhere."""
    try:
        role = _made_login(world, logins, "pg_read_all_data", inherit=True)
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the owner may not grant pg_read_all_data")
    assert reporting.grant(world.url, role, tenant_id=world.a).grant.member
    with _connect(world, role) as conn:
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, false)", [world.b])
        conn.execute("SET agentledger.platform = 'on'")
        seen = conn.execute("SELECT DISTINCT tenant_id FROM agentledger.events").fetchall()
        assert seen == [(world.a,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET ROLE agentledger_app")


def test_grant_refuses_a_login_that_may_create_roles(world: World, logins: list[str]) -> None:
    """CREATEROLE could grant itself membership of the app role (on PostgreSQL 15)."""
    role = _made_login(world, logins, inherit=True)
    with psycopg.connect(world.url, autocommit=True) as owner:
        owner.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(role)))
    with pytest.raises(InvalidInput, match="CREATEROLE") as refused:
        reporting.grant(world.url, role, tenant_id=world.a)
    assert refused.value.field == "role" and not _reporting_member(world, role)
