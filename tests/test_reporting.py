"""Reporting for BI tools, checked as real login roles: each sees its granted tenants in
every view and nothing else, writes nothing, gains nothing from the tenant settings, and
the dashboard queries of docs/reporting.md give the numbers the library reports."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from rich.console import Console
from typer.testing import CliRunner

from agentledger import Ledger
from agentledger.cli import REPORTING_PASSWORD_ENV, app, common
from agentledger.db import reporting
from agentledger.errors import InvalidInput, LedgerError, NotFound
from agentledger.ledger import TenantScope
from tests.conftest import ROOT

PASSWORD = "bi-" + uuid.uuid4().hex
VIEWS_SQL = (
    "SELECT table_name FROM information_schema.views"
    " WHERE table_schema = 'agentledger_reporting' ORDER BY 1"
)
# Columns no view may carry: secrets and internals.
HIDDEN = {
    "hash",
    "prefix",
    "claim_token",
    "embedding",
    "search",
    "tsv",
    "body_text",
    "dedup_key",
    "config",
    "command",
    "commit_order",
    "chunk_seq",
    "retry_delay",
}


@dataclass(frozen=True)
class World:
    """Two tenants with rows in every module, and the owner URL."""

    a: str
    b: str
    url: str


@pytest.fixture(scope="module")
def world(sync_ledger: Ledger, database_url: str) -> World:
    a = sync_ledger.tenants.create(f"ra-{uuid.uuid4().hex[:8]}").id
    b = sync_ledger.tenants.create(f"rb-{uuid.uuid4().hex[:8]}").id
    _populate(sync_ledger, a, scale=2)
    _populate(sync_ledger, b, scale=1)
    return World(a=a, b=b, url=database_url)


def _populate(ledger: Ledger, tenant: str, *, scale: int) -> None:
    """Rows in every module through the library; ``scale`` makes the tenants' counts differ."""
    scope = ledger.tenant(tenant)
    now = datetime.now(UTC)
    scope.keys.create(role="reader", name="bi must not see this")
    scope.agents.register(
        "triage", agent_type="llm", config={"api_key": "sk-secret"}, command="run --token x"
    )
    run = scope.runs.start("email", content="a message", source_id="m-1")
    scope.runs.finish(run.id, tokens_in=100, tokens_out=20)
    for day in range(scale + 1):
        for agent in ("triage", "closer")[:scale]:
            for accepted in (True, False, True, None):
                d = scope.decisions.record(
                    "route to sales",
                    decision_type="routing",
                    agent=agent,
                    run_id=run.id,
                    at=now - timedelta(days=day, minutes=5),
                )
                if accepted is not None:
                    scope.decisions.record_feedback(d.id, accepted, by="ana")
    for tier in range(1, scale + 2):
        alert = scope.alerts.create(tier, f"tier {tier}", dedup_key=f"k{tier}")
        scope.alerts.create(tier, f"tier {tier}", dedup_key=f"k{tier}")  # folded: occurrences 2
        if tier == 1:
            scope.alerts.acknowledge(alert.id, by="ana")
    scope.events.append("order-1", "created", {"total": 10})
    ana = scope.memory.upsert("contact", "Ana", key="c-1", source="crm")
    deal = scope.memory.upsert("deal", "Big deal", key="d-1", source="crm")
    scope.memory.relate(ana.id, deal.id, "owns")
    for n in range(3 * scale):
        scope.tasks.enqueue("email", {"n": n}, run_after=now - timedelta(minutes=n + 1))
    scope.tasks.enqueue("later", run_after=now + timedelta(hours=1))
    (claimed,) = scope.tasks.claim("email", worker="w1")
    scope.tasks.complete(claimed)
    (archived,) = scope.tasks.claim("email", worker="w1")
    scope.tasks.complete(archived)
    assert scope.tasks.prune(older_than=0) == 2
    scope.tasks.claim("email", worker="w2")  # running
    s = scope.sessions.create("Kickoff", participants=["ana"])
    scope.sessions.add_chunk(s.id, "we picked the vermilion logo", author="ana")
    scope.sessions.save_artifact(s.id, "brief.md", "# Brief", artifact_type="document")
    scope.sessions.save_artifact(s.id, "brief.md", "# Brief v2", artifact_type="document")
    _cases(scope, now, scale=scale, contact=ana.id)
    scope.catalog.create_version("policy_pack", "refunds", {"limit": 100 * scale})
    scope.catalog.create_version("policy_pack", "refunds", {"limit": 200 * scale})


def _cases(scope: TenantScope, now: datetime, *, scale: int, contact: uuid.UUID) -> None:
    """Bottlenecks by two agents in several statuses, and exceptions over two domains, some
    open past their SLA."""
    cases = scope.cases
    cases.define_kind(
        "bottleneck",
        ["pending", "in_progress", "resolved", "ignored"],
        transitions={"pending": ["in_progress", "ignored"], "in_progress": ["resolved"]},
        terminal=["resolved", "ignored"],
    )
    cases.define_kind(
        "exception",
        ["open", "analyzing", "resolved", "escalated"],
        transitions={"open": ["analyzing"], "analyzing": ["resolved", "escalated"]},
        terminal=["resolved"],
    )
    made = []
    for n in range(4 * scale):
        agent = ("research", "github")[n % 2]
        made.append(
            cases.create("bottleneck", f"slow step {n}", source=agent, score=n % 10, confidence=0.5)
        )
    cases.transition(made[0].id, "in_progress")
    cases.transition(made[1].id, "ignored")
    cases.block(made[2].id, made[3].id)
    cases.link_entity(made[2].id, contact)
    for n in range(3 * scale):
        due = now + timedelta(hours=-2 if n % 3 else 2)  # two in three are past their SLA
        exc = cases.create(
            "exception",
            f"mismatch {n}",
            ref=f"EX-{n:04}",
            domain=("finance", "billing")[n % 2],
            amount=10 * (n + 1),
            severity="high",
            sla_deadline=due,
        )
        if n == 1:
            cases.transition(exc.id, "analyzing")
            cases.transition(exc.id, "resolved")  # resolved: no longer a breach


@pytest.fixture(scope="module")
def logins(database_url: str) -> Iterator[list[str]]:
    """Names for login roles (cluster-wide), dropped after the module."""
    names: list[str] = []
    yield names
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _login(logins: list[str], world: World, **scope: Any) -> str:
    name = f"bi_{uuid.uuid4().hex[:10]}"
    logins.append(name)
    granted = reporting.grant(world.url, name, password=PASSWORD, **scope)
    assert granted.role_created and granted.grant.member
    return name


def _connect(world: World, role: str) -> psycopg.Connection[Any]:
    return psycopg.connect(reporting.login_url(world.url, role), password=PASSWORD, autocommit=True)


def _views(conn: psycopg.Connection[Any]) -> list[str]:
    return [row[0] for row in conn.execute(VIEWS_SQL)]


def _counts(conn: psycopg.Connection[Any], view: str) -> dict[str, int]:
    rows = conn.execute(
        sql.SQL(
            "SELECT tenant_id, count(*) FROM agentledger_reporting.{} GROUP BY tenant_id"
        ).format(sql.Identifier(view))
    )
    return {tenant: count for tenant, count in rows}


def _everything(conn: psycopg.Connection[Any], views: list[str]) -> dict[str, dict[str, int]]:
    return {view: _counts(conn, view) for view in views}


@pytest.fixture(scope="module")
def owner_counts(world: World) -> dict[str, dict[str, int]]:
    """Rows per view per tenant, as the owner (who bypasses row-level security) sees them."""
    with psycopg.connect(world.url) as conn:
        return _everything(conn, _views(conn))


def test_every_module_has_a_view_with_rows_in_both_tenants(
    world: World, owner_counts: dict[str, dict[str, int]]
) -> None:
    assert set(owner_counts) == {
        "tenants",
        "agents",
        "runs",
        "decisions",
        "alerts",
        "events",
        "memory_entities",
        "memory_relationships",
        "tasks",
        "sessions",
        "session_chunks",
        "session_artifacts",
        "case_statuses",
        "cases",
        "case_blocks",
        "case_links",
        "catalog_documents",
        "catalog_versions",
    }
    for view, counts in owner_counts.items():
        assert counts.get(world.a, 0) > 0 and counts.get(world.b, 0) > 0, view


def test_a_login_granted_one_tenant_sees_its_rows_in_every_view_and_nothing_else(
    world: World, logins: list[str], owner_counts: dict[str, dict[str, int]]
) -> None:
    role = _login(logins, world, tenant_id=world.a)
    with _connect(world, role) as conn:
        seen = _everything(conn, _views(conn))
    assert seen == {view: {world.a: counts[world.a]} for view, counts in owner_counts.items()}


def test_an_all_tenants_login_sees_every_tenant(
    world: World, logins: list[str], owner_counts: dict[str, dict[str, int]]
) -> None:
    role = _login(logins, world, all_tenants=True)
    with _connect(world, role) as conn:
        assert _everything(conn, _views(conn)) == owner_counts


def test_two_grants_add_up_and_revoking_one_leaves_the_other(
    world: World, logins: list[str], owner_counts: dict[str, dict[str, int]]
) -> None:
    role = _login(logins, world, tenant_id=world.b)
    reporting.grant(world.url, role, tenant_id=world.a)
    with _connect(world, role) as conn:
        assert _counts(conn, "decisions") == owner_counts["decisions"]
        done = reporting.revoke(world.url, role, tenant_id=world.a)
        assert (done.grants, done.membership) == (1, False)
        # The same session: the grants are read again by its next query.
        assert _counts(conn, "decisions") == {world.b: owner_counts["decisions"][world.b]}


def test_a_revoked_login_sees_nothing_then_may_not_read_at_all(
    world: World, logins: list[str]
) -> None:
    role = _login(logins, world, tenant_id=world.a)
    assert reporting.revoke(world.url, role, tenant_id=world.a).grants == 1
    with _connect(world, role) as conn:
        views = _views(conn)
        assert all(_counts(conn, view) == {} for view in views)
    done = reporting.revoke(world.url, role)
    assert (done.grants, done.membership) == (0, True)
    with _connect(world, role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM agentledger_reporting.decisions")
    assert reporting.list_grants(world.url, role) == []


def test_setting_the_tenant_or_platform_itself_changes_nothing(
    world: World, logins: list[str], owner_counts: dict[str, dict[str, int]]
) -> None:
    role = _login(logins, world, tenant_id=world.a)
    mine = {view: {world.a: counts[world.a]} for view, counts in owner_counts.items()}
    with _connect(world, role) as conn:
        views = _views(conn)
        conn.execute(sql.SQL("SET agentledger.tenant_id = {}").format(sql.Literal(world.b)))
        conn.execute("SET agentledger.platform = 'on'")
        assert conn.execute("SHOW agentledger.tenant_id").fetchone() == (world.b,)
        assert _everything(conn, views) == mine
        with conn.transaction():
            conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [world.b])
            assert _everything(conn, views) == mine
        # The group role's own name does not widen the grant: grants follow the login.
        conn.execute("SET ROLE agentledger_reporting")
        assert _everything(conn, views) == mine
        conn.execute("RESET ROLE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT agentledger.bind_tenant(%s)", [world.b])


def test_a_login_writes_nothing(
    world: World, logins: list[str], owner_counts: dict[str, dict[str, int]]
) -> None:
    role = _login(logins, world, all_tenants=True)
    with _connect(world, role) as conn:
        views = _views(conn)
        statements = [
            stmt.format(sql.Identifier("agentledger_reporting", view))
            for view in views
            for stmt in (
                sql.SQL("DELETE FROM {}"),
                sql.SQL("UPDATE {} SET tenant_id = tenant_id"),
                sql.SQL("INSERT INTO {} (tenant_id) VALUES ('x')"),
            )
        ] + [
            sql.SQL(text)
            for text in (
                "DELETE FROM agentledger.decisions",
                "UPDATE agentledger.tasks SET status = 'cancelled'",
                "TRUNCATE agentledger.events",
                "INSERT INTO agentledger.reporting_grants (role_name) VALUES (current_user)",
                "CREATE VIEW agentledger_reporting.mine AS SELECT 1",
                "CREATE TABLE agentledger.mine (x int)",
            )
        ]
        for statement in statements:
            # Refused for want of the privilege; the union of live and archived tasks is
            # not even a view PostgreSQL could write through.
            with pytest.raises(
                (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)
            ):
                conn.execute(statement)
    with psycopg.connect(world.url) as owner:
        assert _everything(owner, views) == owner_counts


def test_api_keys_hashes_and_internal_columns_are_out_of_reach(
    world: World, logins: list[str]
) -> None:
    role = _login(logins, world, all_tenants=True)
    with _connect(world, role) as conn:
        for query in (
            "SELECT count(*) FROM agentledger.api_keys",
            "SELECT hash FROM agentledger.api_keys",
            "SELECT claim_token FROM agentledger.tasks",
            "SELECT * FROM agentledger.reporting_grants",
            "SELECT agentledger.reporting_tenants()",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'agentledger_reporting'"
            )
        }
    assert columns and not columns & HIDDEN
    with psycopg.connect(world.url) as owner:
        rows = owner.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'agentledger' AND c.relkind IN ('r', 'p') AND a.attnum > 0"
            " AND NOT a.attisdropped"
            " AND has_column_privilege('agentledger_reporting', c.oid, a.attnum, 'SELECT')"
        ).fetchall()
        writes = owner.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('agentledger', 'agentledger_reporting')"
            " AND has_table_privilege('agentledger_reporting', c.oid,"
            " 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')"
        ).fetchall()
    readable = {(table, column) for table, column in rows}
    assert ("decisions", "decision") in readable
    assert {table for table, _ in readable} >= {"tasks", "task_archive", "memory_entities"}
    assert not {table for table, _ in readable} & {"api_keys", "reporting_grants"}
    assert not {column for _, column in readable} & HIDDEN
    assert writes == []


def test_the_grant_lookup_runs_once_per_query_not_per_row(world: World, logins: list[str]) -> None:
    role = _login(logins, world, tenant_id=world.a)
    with _connect(world, role) as conn:
        row = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM agentledger_reporting.decisions"
        ).fetchone()
    assert row is not None
    nodes = list(_nodes(row[0][0]["Plan"]))
    scans = [n for n in nodes if n.get("Relation Name") == "decisions"]
    lookups = [n for n in nodes if str(n.get("Subplan Name", "")).startswith("InitPlan")]
    assert scans and scans[0]["Actual Rows"] > 1
    assert lookups and all(n["Actual Loops"] == 1 for n in lookups)
    assert "reporting_tenants" not in str(scans[0].get("Filter", ""))


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _doc_query(title: str) -> str:
    text = (ROOT / "docs" / "reporting.md").read_text()
    for block in re.findall(r"```sql\n(.*?)```", text, re.DOTALL):
        if block.startswith(f"-- dashboard: {title}\n"):
            return str(block)
    raise AssertionError(f"docs/reporting.md has no dashboard query {title!r}")


def _dashboard(world: World, role: str, title: str) -> list[dict[str, Any]]:
    with _connect(world, role) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_doc_query(title).encode()).fetchall()


def test_decisions_per_agent_per_day_match_the_library(
    world: World, logins: list[str], sync_ledger: Ledger
) -> None:
    role = _login(logins, world, all_tenants=True)
    rows = _dashboard(world, role, "decisions per agent per day")
    for tenant in (world.a, world.b):
        stats = sync_ledger.tenant(tenant).decisions.acceptance_stats(by=["agent"], period="day")
        expected = [
            (s.period_start, s.agent, s.decisions, s.accepted, s.rejected, s.acceptance_rate)
            for s in stats
        ]
        got = [
            (
                r["day"],
                r["agent"],
                r["decisions"],
                r["accepted"],
                r["rejected"],
                r["acceptance_rate"],
            )
            for r in rows
            if r["tenant_id"] == tenant
        ]
        assert got == sorted(expected, key=lambda e: (e[0], e[1]))
        # Days by agents: three by two for a, two by one for b (see _populate).
        assert len(got) == (6 if tenant == world.a else 2)
        assert all(r[5] == pytest.approx(2 / 3) for r in got)
    assert {r["tenant_id"] for r in rows} >= {world.a, world.b}


def test_tasks_per_queue_match_the_library(
    world: World, logins: list[str], sync_ledger: Ledger
) -> None:
    role = _login(logins, world, tenant_id=world.a)
    tasks = sync_ledger.tenant(world.a).tasks
    stats = tasks.stats()
    rows = _dashboard(world, role, "tasks per queue by status")
    assert {r["tenant_id"] for r in rows} == {world.a}
    columns = ("queue", "pending", "ready", "running", "completed", "dead", "cancelled")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        tuple(getattr(s, c) for c in columns) for s in stats
    ]
    ready = [t for t in tasks.list(queue="email", status="pending")]
    email = next(r for r in rows if r["queue"] == "email")
    assert email["oldest_ready_since"] == min(t.run_after for t in ready)
    # Measured later than the library's figure, so never younger.
    assert email["oldest_ready_seconds"] >= next(
        s.oldest_ready_age for s in stats if s.queue == "email"
    )
    later = next(r for r in rows if r["queue"] == "later")
    assert (later["pending"], later["ready"], later["oldest_ready_since"]) == (1, 0, None)
    with _connect(world, role) as conn:
        archived = conn.execute(
            "SELECT count(*) FROM agentledger_reporting.tasks WHERE archived"
        ).fetchone()
    assert archived == (2,)


def test_alerts_by_tier_and_status_per_day_match_the_library(
    world: World, logins: list[str], sync_ledger: Ledger
) -> None:
    role = _login(logins, world, tenant_id=world.b)
    rows = _dashboard(world, role, "alerts by tier and status per day")
    alerts = sync_ledger.tenant(world.b).alerts.list(limit=1000)
    expected = Counter(
        (
            a.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
            a.tier,
            a.status,
        )
        for a in alerts
    )
    got = {(r["day"], r["tier"], r["status"]): r["alerts"] for r in rows}
    assert got == dict(expected)
    assert all(r["occurrences"] == 2 * r["alerts"] and r["tenant_id"] == world.b for r in rows)
    assert {r["tier_name"] for r in rows} == {"urgent", "important"}


def test_bottlenecks_by_status_and_agent_match_the_library(
    world: World, logins: list[str], sync_ledger: Ledger
) -> None:
    role = _login(logins, world, tenant_id=world.a)
    rows = _dashboard(world, role, "bottlenecks by status and agent")
    found = sync_ledger.tenant(world.a).cases.list(kind="bottleneck", limit=1000).items
    groups: dict[tuple[str, str | None], list[float]] = {}
    for c in found:
        assert c.score is not None
        groups.setdefault((c.status, c.source), []).append(c.score)
    expected = {key: len(scores) for key, scores in groups.items()}
    means = {key: sum(scores) / len(scores) for key, scores in groups.items()}
    got = {(r["status"], r["agent_id"]): r["bottlenecks"] for r in rows}
    assert got == expected
    assert {(r["status"], r["agent_id"]): float(r["average_impact"]) for r in rows} == (
        pytest.approx(means)
    )
    assert {r["tenant_id"] for r in rows} == {world.a}
    assert {"pending", "in_progress", "ignored"} <= {status for status, _ in got}


def test_exceptions_past_sla_by_domain_match_the_library(
    world: World, logins: list[str], sync_ledger: Ledger
) -> None:
    role = _login(logins, world, all_tenants=True)
    rows = _dashboard(world, role, "exceptions past SLA by domain")
    for tenant in (world.a, world.b):
        breaches = sync_ledger.tenant(tenant).cases.find_sla_breaches(kind="exception")
        expected = Counter(c.domain for c in breaches)
        amounts: Counter[str | None] = Counter()
        for c in breaches:
            amounts[c.domain] += int(c.amount or 0)
        got = {r["domain"]: r["past_sla"] for r in rows if r["tenant_id"] == tenant}
        assert got == dict(expected) and sum(got.values()) > 0
        assert {
            r["domain"]: int(r["amount_at_risk"]) for r in rows if r["tenant_id"] == tenant
        } == dict(amounts)


def test_the_global_catalog_shows_to_a_login_with_a_grant_only(
    world: World, logins: list[str], sync_ledger: Ledger
) -> None:
    name = f"pack-{uuid.uuid4().hex[:8]}"
    sync_ledger.platform_catalog.create_version("domain_pack", name, {"v": 1})
    granted = _login(logins, world, tenant_id=world.b)
    with _connect(world, granted) as conn:
        rows = conn.execute(
            "SELECT tenant_id, is_global, name FROM agentledger_reporting.catalog_documents"
            " WHERE doc_type = 'domain_pack'"
        ).fetchall()
        tenants = {
            t
            for (t,) in conn.execute(
                "SELECT tenant_id FROM agentledger_reporting.catalog_documents"
            )
        }
    assert (None, True, name) in rows and tenants <= {None, world.b}
    nobody = _login(logins, world, tenant_id=world.a)
    reporting.revoke(world.url, nobody)
    reporting.grant(world.url, nobody, tenant_id=world.a)  # still a member, then no grant left
    reporting.revoke(world.url, nobody, tenant_id=world.a)
    with _connect(world, nobody) as conn:
        assert conn.execute(
            "SELECT count(*) FROM agentledger_reporting.catalog_versions"
        ).fetchone() == (0,)


def test_grant_refuses_what_would_see_or_write_more(world: World, logins: list[str]) -> None:
    role = _login(logins, world, tenant_id=world.a)
    cases: list[tuple[dict[str, Any], type[LedgerError], str]] = [
        ({"role": "Bad-Name", "tenant_id": world.a}, InvalidInput, "role"),
        ({"role": "agentledger_app", "tenant_id": world.a}, InvalidInput, "role"),
        ({"role": "agentledger_reporting", "tenant_id": world.a}, InvalidInput, "role"),
        ({"role": role}, InvalidInput, "tenant_id"),
        ({"role": role, "tenant_id": world.a, "all_tenants": True}, InvalidInput, "tenant_id"),
        ({"role": role, "tenant_id": "no-such-tenant"}, NotFound, "tenant_id"),
        ({"role": f"bi_{uuid.uuid4().hex[:10]}", "tenant_id": world.a}, NotFound, "role"),
        ({"role": role, "tenant_id": world.a, "password": ""}, InvalidInput, "password"),
    ]
    with psycopg.connect(world.url) as owner:
        me = owner.execute("SELECT current_user").fetchone()
    assert me is not None
    cases.append(({"role": me[0], "tenant_id": world.a}, InvalidInput, "role"))
    for kwargs, error, field in cases:
        with pytest.raises(error) as caught:
            reporting.grant(world.url, **kwargs)
        assert caught.value.field == field, kwargs
    assert [g.tenant_id for g in reporting.list_grants(world.url, role)] == [world.a]


def test_a_created_login_is_plain_and_its_password_is_stored_hashed(
    world: World, logins: list[str]
) -> None:
    role = _login(logins, world, tenant_id=world.a)
    with psycopg.connect(world.url) as owner:
        row = owner.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,"
            " rolpassword LIKE 'SCRAM-SHA-256$%%' AND position(%s IN rolpassword) = 0"
            " FROM pg_authid WHERE rolname = %s",
            [PASSWORD, role],
        ).fetchone()
    assert row == (True, False, False, False, False, True)
    again = reporting.grant(world.url, role, tenant_id=world.a, password="other")
    assert not again.role_created and again.grant.tenant_id == world.a


def test_login_url_names_the_login_and_the_owner_database() -> None:
    assert (
        reporting.login_url("postgresql://owner:pw@db.example.com:6543/ledger", "bi_acme")
        == "postgresql://bi_acme@db.example.com:6543/ledger"
    )
    assert reporting.login_url("host=::1 dbname=x user=o", "bi") == "postgresql://bi@[::1]:5432/x"


def test_the_cli_grants_lists_and_revokes(
    world: World, logins: list[str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"bi_{uuid.uuid4().hex[:10]}"
    logins.append(role)
    monkeypatch.setenv("DATABASE_URL", world.url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(REPORTING_PASSWORD_ENV, PASSWORD)
    monkeypatch.setattr(common, "out", Console(width=200))  # the URL on one line
    runner = CliRunner()
    granted = runner.invoke(app, ["reporting", "grant", role, "--tenant", world.a, "--password"])
    assert granted.exit_code == 0, granted.output
    assert f"created login role {role}" in granted.output and PASSWORD not in granted.output
    assert reporting.login_url(world.url, role) in granted.output
    wide = runner.invoke(app, ["reporting", "grant", role, "--all-tenants"])
    assert wide.exit_code == 0, wide.output
    assert "every tenant" in wide.output
    listed = runner.invoke(app, ["reporting", "list", "--role", role])
    assert listed.exit_code == 0, listed.output
    assert "(every tenant)" in listed.output and world.a in listed.output
    with _connect(world, role) as conn:
        assert set(_counts(conn, "tenants")) >= {world.a, world.b}
    narrow = runner.invoke(app, ["reporting", "revoke", role, "--all-tenants"])
    assert narrow.exit_code == 0 and "withdrew 1 grant(s)" in narrow.output, narrow.output
    with _connect(world, role) as conn:
        assert set(_counts(conn, "tenants")) == {world.a}
    gone = runner.invoke(app, ["reporting", "revoke", role])
    assert gone.exit_code == 0, gone.output
    assert "no longer a member" in gone.output
    refused = runner.invoke(app, ["reporting", "grant", role, "--tenant", world.a, "--all-tenants"])
    assert refused.exit_code != 0 and isinstance(refused.exception, InvalidInput)
