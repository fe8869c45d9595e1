"""Reporting logins: which PostgreSQL login roles may read which tenants through the views.

These run on the owner connection (they create roles and write ``reporting_grants``,
which no application or reporting role may touch), each as one transaction. Role names
are plain identifiers, validated here and quoted by psycopg; a password reaches the
server only as the SCRAM verifier the client computes from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from agentledger import errors
from agentledger.db.binding import check_tenant_id
from agentledger.db.statements import Queries
from agentledger.db.translate import is_driver_error, translate

Q = Queries.beside(__file__)
# The NOLOGIN group role of revision reporting_0001: SELECT on the views, nothing else.
REPORTING_ROLE = "agentledger_reporting"
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportingGrant:
    """One grant: ``role`` may read ``tenant_id``'s rows (``None``: every tenant's).

    ``member`` says whether the role is (still) a member of the reporting role; without
    membership a grant reads nothing."""

    role: str
    tenant_id: str | None
    granted_at: datetime
    member: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Granted:
    """What :func:`grant` did: the grant as stored, and whether it created the login."""

    grant: ReportingGrant
    role_created: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Revoked:
    """What :func:`revoke` did: grants withdrawn, and whether membership was taken away."""

    grants: int
    membership: bool


def check_role_name(role: object) -> str:
    """``role`` when it is a plain lower-case identifier; InvalidInput naming it otherwise."""
    if not isinstance(role, str) or not ROLE_NAME.fullmatch(role):
        raise errors.InvalidInput(
            f"role {role!r} is not a plain identifier: use 1-63 lower-case letters, digits"
            " or '_', not starting with a digit",
            field="role",
        )
    return role


def grant(
    url: str,
    role: str,
    *,
    tenant_id: str | None = None,
    all_tenants: bool = False,
    password: str | None = None,
) -> Granted:
    """Let login ``role`` read ``tenant_id``'s rows through the reporting views, or every
    tenant's with ``all_tenants`` (exactly one of the two).

    A missing role is created (LOGIN, no other attribute) when ``password`` is given, and
    is NotFound otherwise; an existing role keeps its password. The role is made a member
    of ``agentledger_reporting``. Roles that could see or write more than a grant allows
    are refused (InvalidInput): superusers, BYPASSRLS roles, the connected owner, roles
    that may write agentledger's tables (the app role), members of any of those by any
    membership (inherited or not: ``SET ROLE`` would reach them), CREATEROLE roles, and
    roles that cannot log in (the grant names the login, ``session_user``). Granting the
    same again changes nothing.
    """
    name = check_role_name(role)
    tenant = _scope(tenant_id, all_tenants, required=True)
    if password is not None and (not password or "\x00" in password):
        raise errors.InvalidInput("the password is empty or holds a NUL byte", field="password")
    with _owner(url) as conn:
        if tenant is not None and not _scalar(conn, Q.tenant_exists.sql, {"tenant": tenant}):
            raise errors.NotFound(f"tenant {tenant!r} does not exist", field="tenant_id")
        found = _role(conn, name)
        created = found is None
        if found is None:
            if password is None:
                raise errors.NotFound(
                    f"role {name!r} does not exist: give a password to create it", field="role"
                )
            verifier = conn.pgconn.encrypt_password(password.encode(), name.encode())
            conn.execute(
                sql.SQL(Q.create_login.sql).format(
                    role=sql.Identifier(name), password=sql.Literal(verifier.decode())
                )
            )
        else:
            _refuse_privileged(name, found)
        if found is None or not found["member"]:
            conn.execute(sql.SQL(Q.add_member.sql).format(role=sql.Identifier(name)))
        conn.execute(Q.insert_grant.sql, {"role": name, "tenant": tenant})
        stored = [g for g in _grants(conn, name) if g.tenant_id == tenant]
    return Granted(grant=stored[0], role_created=created)


def revoke(
    url: str, role: str, *, tenant_id: str | None = None, all_tenants: bool = False
) -> Revoked:
    """Withdraw ``role``'s grant of ``tenant_id``, or its every-tenant grant with
    ``all_tenants``; with neither, every grant it holds and its membership of
    ``agentledger_reporting``. The login role itself stays (drop it yourself if no longer
    used). Withdrawing what was never granted changes nothing."""
    name = check_role_name(role)
    tenant = _scope(tenant_id, all_tenants, required=False)
    with _owner(url) as conn:
        if tenant is not None or all_tenants:
            cur = conn.execute(Q.delete_grant.sql, {"role": name, "tenant": tenant})
            return Revoked(grants=cur.rowcount, membership=False)
        removed = conn.execute(Q.delete_grants.sql, {"role": name}).rowcount
        found = _role(conn, name)
        member = found is not None and bool(found["member"])
        if member:
            conn.execute(sql.SQL(Q.drop_member.sql).format(role=sql.Identifier(name)))
    return Revoked(grants=removed, membership=member)


def list_grants(url: str, role: str | None = None) -> list[ReportingGrant]:
    """Every reporting grant (or ``role``'s), by role, the every-tenant grant first."""
    name = None if role is None else check_role_name(role)
    with _owner(url) as conn:
        return _grants(conn, name)


def login_url(url: str, role: str) -> str:
    """The URL a BI tool connects with as login ``role``: the owner URL's server and
    database, without the owner's user or password (the tool asks for the password)."""
    name = check_role_name(role)
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "localhost")
    host = f"[{host}]" if ":" in host else quote(host, safe="")  # IPv6, or a socket directory
    port = str(params.get("port") or "5432")
    database = str(params.get("dbname") or params.get("user") or name)  # libpq's default
    return f"postgresql://{name}@{host}:{port}/{quote(database, safe='')}"


def _scope(tenant_id: str | None, all_tenants: bool, *, required: bool) -> str | None:
    if tenant_id is not None and all_tenants:
        raise errors.InvalidInput("give a tenant or all tenants, not both", field="tenant_id")
    if tenant_id is None and not all_tenants and required:
        raise errors.InvalidInput("give a tenant, or all tenants", field="tenant_id")
    return None if tenant_id is None else check_tenant_id(tenant_id)


def _refuse_privileged(name: str, found: dict[str, Any]) -> None:
    reason = (
        "is a superuser"
        if found["superuser"]
        else "bypasses row-level security"
        if found["bypass_rls"]
        else "is the owner this runs as"
        if found["is_current_user"]
        else "may write agentledger's tables (the app role or an owner)"
        if found["writes"]
        else f"is a member of {', '.join(found['privileged_roles'])}, which may write "
        "agentledger's tables, bypass row-level security or own them (SET ROLE reaches them "
        "even without inheritance)"
        if found["privileged_roles"]
        else "may create roles and grant memberships (CREATEROLE)"
        if found["create_role"]
        else "cannot log in (a grant names the login itself)"
        if not found["can_login"]
        else None
    )
    if reason is not None:
        raise errors.InvalidInput(
            f"role {name!r} {reason}: a reporting login must be a plain login role of its own",
            field="role",
        )


def _role(conn: psycopg.Connection[Any], name: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.role_of.sql, {"role": name}).fetchone()


def _grants(conn: psycopg.Connection[Any], role: str | None) -> list[ReportingGrant]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(Q.list_grants.sql, {"role": role}).fetchall()
    return [ReportingGrant(**row) for row in rows]


def _scalar(
    conn: psycopg.Connection[Any], query: LiteralString, params: dict[str, Any] | None
) -> Any:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


@contextmanager
def _owner(url: str) -> Iterator[psycopg.Connection[Any]]:
    """One transaction on the owner connection; driver errors reach the caller translated."""
    try:
        with psycopg.connect(url) as conn:
            if not _scalar(conn, Q.views_installed.sql, None):
                raise errors.LedgerError(
                    "the database has no reporting views yet: run `agentledger migrate`"
                )
            yield conn
    except Exception as exc:
        if is_driver_error(exc):
            raise translate(exc) from exc
        raise
