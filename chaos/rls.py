"""Row-level security at the database, checked from PostgreSQL's catalogue and as the
application role: the role cannot bypass RLS, every tenant table enforces it, every view
runs as its caller, an unbound session sees nothing, a row for another tenant is refused,
and a pool of one connection alternating tenants never shows one tenant another's rows."""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

import psycopg
from psycopg import sql

from agentledger import Ledger
from agentledger.db.connect import app_conninfo
from chaos.common import Result, own_server

NAME = "Row-level security at the database"
METHOD = (
    "catalogue checks (app role not superuser, no BYPASSRLS, owns nothing; every table with "
    "tenant_id has RLS enabled and forced; every view security_invoker), then as the app "
    "role: every table and view read unbound, a row inserted for another tenant, and many "
    "alternating-tenant operations from threads through a Ledger pool of size 1"
)

SCHEMAS = ("agentledger", "agentledger_reporting")
TENANT_TABLES = """
SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p')
"""
VIEWS = """
SELECT n.nspname, c.relname, coalesce('security_invoker=true' = ANY(c.reloptions)
    OR 'security_invoker=on' = ANY(c.reloptions), false)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('v', 'm')
"""


def run(quick: bool) -> Result:
    result = Result(NAME, METHOD)
    failures: list[str] = []
    rounds = 300 if quick else 5000
    with own_server(durable=False) as own:
        settings = own.settings(pool_max_size=1, pool_min_size=1, pool_timeout=30)
        app_url = app_conninfo(settings, own.url)
        with Ledger(settings, migrate=False) as ledger:
            tenants = [f"r{i}-{uuid.uuid4().hex[:6]}" for i in range(4)]
            for t in tenants:
                ledger.tenants.create(t)
                scope = ledger.tenant(t)
                scope.keys.create(role="admin")
                scope.events.append("s", "Seeded", {"tenant": t})
                scope.memory.upsert("thing", t, key=t, attrs={"tenant": t})
                scope.tasks.enqueue("q", {"tenant": t})
            with own.owner() as owner:
                role = settings.app_role
                attrs = owner.execute(
                    "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone()
                owned = owner.execute(
                    "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                    "WHERE r.rolname = %s",
                    (role,),
                ).fetchone()
                tables = owner.execute(TENANT_TABLES, {"schemas": list(SCHEMAS)}).fetchall()
                views = owner.execute(VIEWS, {"schemas": list(SCHEMAS)}).fetchall()
            result.operations += 3 + len(tables) + len(views)
            if attrs != (False, False):
                failures.append(f"app role superuser/bypassrls: {attrs}")
            if owned is None or owned[0] != 0:
                failures.append(f"app role owns {owned} relations")
            weak = [f"{s}.{t}" for s, t, rls, forced in tables if not (rls and forced)]
            if weak or not tables:
                failures.append(f"tables without forced RLS: {weak or 'none found'}")
            definer = [f"{s}.{v}" for s, v, invoker in views if not invoker]
            if definer:
                failures.append(f"views not security_invoker: {definer}")
            result.leaked += _unbound(app_url, tables, views, failures)
            result.operations += len(tables) + len(views)
            refused = _mismatch_refused(app_url, tenants)
            result.operations += 1
            if not refused:
                failures.append("a row for another tenant was accepted")
                result.leaked += 1
            leaks, ops = _alternate(ledger, tenants, rounds)
            result.leaked += leaks
            result.operations += ops
            result.acknowledged = ops
    result.faults = rounds
    result.details = {
        "tenant_tables": len(tables),
        "views": len(views),
        "alternations": ops,
        "failures": failures[:5],
    }
    return result.decide("; ".join(failures[:3]))


def _unbound(app_url: str, tables: list[Any], views: list[Any], failures: list[str]) -> int:
    """Rows any tenant table or view shows a session bound to no tenant."""
    leaked = 0
    with psycopg.connect(app_url, autocommit=True) as conn:
        for schema, name, *_ in [*tables, *views]:
            query = sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
            try:
                row = conn.execute(query).fetchone()
            except psycopg.errors.InsufficientPrivilege:
                continue  # not granted to the app role at all: nothing to leak
            count = row[0] if row else 0
            if count:
                failures.append(f"{schema}.{name}: {count} rows unbound")
                leaked += count
    return leaked


def _mismatch_refused(app_url: str, tenants: list[str]) -> bool:
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (tenants[0],))
        try:
            conn.execute(
                "INSERT INTO agentledger.events (tenant_id, position, event_id, stream, "
                "version, type, actor_type) VALUES (%s, 999999, gen_random_uuid(), 'x', 1, "
                "'x', 'system')",
                (tenants[1],),
            )
        except psycopg.errors.InsufficientPrivilege:
            return True
        return False


def _alternate(ledger: Ledger, tenants: list[str], rounds: int) -> tuple[int, int]:
    """Threads sharing a one-connection pool each read as a random tenant: every row seen
    must be that tenant's."""
    leaks = 0
    ops = 0
    lock = threading.Lock()

    def go(seed: int) -> None:
        nonlocal leaks, ops
        rng = random.Random(seed)
        for _ in range(rounds // 4):
            t = rng.choice(tenants)
            scope = ledger.tenant(t)
            seen = [e.payload.get("tenant") for e in scope.events.recent()]
            seen += [m.attrs.get("tenant") for m in scope.memory.list()]
            seen += [task.input.get("tenant") for task in scope.tasks.list(queue="q")]
            bad = sum(s != t for s in seen) + (len(seen) != 3)
            with lock:
                leaks += bad
                ops += 1

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return leaks, ops
