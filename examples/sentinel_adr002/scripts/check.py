"""ADR-002's criteria, checked: one tick per criterion, non-zero exit on a failure.

    python examples/sentinel_adr002/scripts/check.py

Uses the embedded PostgreSQL unless DATABASE_URL is set. Loads Sentinel's data into the
``sentinel-adr002`` tenant when it is missing (``seed_data.py``), and reads it there; the
checks that write use a scratch tenant, archived at the end (decisions are never deleted).
The analytics run through a reporting login made for the run and dropped after it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import psycopg
from psycopg import sql

from agentledger import IllegalTransition, InvalidInput, Ledger, NotFound, PermissionDenied
from agentledger.db import reporting
from agentledger.db.connect import owner_url
from examples.sentinel_adr002 import analytics, seed_data
from examples.sentinel_adr002.repository import TENANT, SentinelRepository

DAY = dt.timedelta(days=1)


def refused(call: Callable[[], object], error: type[Exception], field: str | None = None) -> str:
    """Run ``call``, which must raise ``error`` (naming ``field``); its message."""
    try:
        call()
    except error as exc:
        if field is not None:
            assert getattr(exc, "field", None) == field, f"{exc!r} names no {field!r}"
        return str(exc)
    raise AssertionError(f"{error.__name__} expected")


@contextmanager
def reporting_login(url: str, tenant: str) -> Iterator[psycopg.Connection[Any]]:
    """A BI login granted ``tenant`` alone, connected; revoked and dropped afterwards."""
    role, password = f"sentinel_bi_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    reporting.grant(url, role, tenant_id=tenant, password=password)
    try:
        with psycopg.connect(
            reporting.login_url(url, role), password=password, autocommit=True
        ) as conn:
            yield conn
    finally:
        reporting.revoke(url, role)
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def main(argv: list[str] | None = None) -> int:
    tenant = (argv or sys.argv[1:] or [TENANT])[0]
    scratch = f"adr002-check-{uuid.uuid4().hex[:10]}"
    ok = True
    with Ledger.from_env() as ledger:
        repo = SentinelRepository(ledger, tenant=tenant)
        test = SentinelRepository(ledger, tenant=scratch)
        now = dt.datetime.now(dt.UTC)

        def schema() -> None:
            health = ledger.health()
            assert health.database and health.migrations_current, health
            if len(repo.list_bottlenecks()) < len(seed_data.BOTTLENECKS):
                seed_data.load(repo)
            loaded = seed_data.counts(repo)
            assert loaded == {
                "agents": 4,
                "bottlenecks": 20,
                "blocking": 10,
                "decisions": 10,
                "weekly_plans": 2,
                "notion_sync": 4,
            }, loaded
            assert {a.agent_type for a in repo.list_agents()} == {
                "research",
                "github",
                "orchestrator",
            }

        def agents() -> None:
            config = {"schedule": "weekly", "sources": ["arxiv"], "limits": {"pages": 20}}
            agent = test.register_agent("research-1", "research", domain="ai", config=config)
            assert (agent.config, agent.status, agent.last_run) == (config, "active", None)
            ran = test.record_run("research-1")
            assert ran.last_run is not None and ran.last_run >= agent.created_at
            assert ran.status == "active"  # no heartbeat since: still active, not offline
            later = test.record_run("research-1")
            assert later.last_run is not None and later.last_run > ran.last_run
            assert test.set_agent_status("research-1", "inactive").status == "inactive"
            assert [a.agent_id for a in test.list_agents(status="inactive")] == ["research-1"]
            kept = test.register_agent("research-1", "research", config={"schedule": "daily"})
            assert (kept.status, kept.config, kept.domain) == (
                "inactive",
                {"schedule": "daily"},
                "ai",
            )
            test.set_agent_status("research-1", "active")
            seeded = repo.list_agents(status="active")
            assert len(seeded) == 4 and all(a.last_run is not None for a in seeded)

        def refusals() -> None:
            test.register_agent("github-1", "github")
            refused(
                lambda: test.report_bottleneck("github-1", "x", 11, 0.5),
                InvalidInput,
                "impact_score",
            )
            refused(
                lambda: test.report_bottleneck("github-1", "x", 5, 1.5), InvalidInput, "confidence"
            )
            refused(lambda: test.report_bottleneck("ghost", "x", 5, 0.5), NotFound, "agent_id")
            refused(lambda: test.log_decision("ghost", "t", {}), NotFound, "agent_id")
            assert test.list_bottlenecks() == [], "a refused bottleneck was written"

        def workflow() -> None:
            b = test.report_bottleneck("github-1", "Slow reviews", 6, 0.7)
            assert (b.status, b.resolved_at) == ("pending", None)
            assert test.start_bottleneck(b.id).status == "in_progress"
            done = test.resolve_bottleneck(b.id)
            assert done.status == "resolved" and done.resolved_at is not None
            message = refused(lambda: test.set_status(b.id, "pending"), IllegalTransition)
            assert "'resolved'" in message and "'pending'" in message, message
            assert test.get_bottleneck(b.id).status == "resolved"
            other = test.report_bottleneck("github-1", "Noise", 1, 0.2)
            ignored = test.ignore_bottleneck(other.id, reason="not worth it")
            assert ignored.status == "ignored" and ignored.resolved_at is not None

        def ordering() -> None:
            pending = repo.list_bottlenecks(status="pending")
            impacts = [b.impact_score for b in pending]
            assert len(pending) == 12 and impacts == sorted(impacts, reverse=True), impacts
            github = repo.list_bottlenecks(status="pending", agent_id="github-sentinel")
            assert [b.description for b in github][:2] == [
                "Security alerts unassigned for a week",
                "CI pipeline takes 40 minutes per PR",
            ]
            assert all(b.agent_id == "github-sentinel" for b in github) and len(github) == 4
            start = seed_data.T0 + 5 * DAY
            window = repo.list_bottlenecks(
                status="pending", identified_from=start, identified_to=start + 3 * DAY
            )
            assert {b.description for b in window} == {
                "Board deck waits on churn analysis",
                "Vector search evaluation stalled",
                "Embedding model choice undecided",
                "Prototype lacks an evaluation dataset",
                "Weekly priorities conflict between teams",
            }, window
            assert [b.impact_score for b in window] == [8.0, 7.5, 7.0, 6.5, 5.0]

        def audit_log() -> None:
            d = test.log_decision(
                "github-1", "escalation", {"decision": "page on-call"}, confidence=0.9
            )
            assert test.list_decisions(agent_id="github-1")[0].id == d.id
            for statement in (
                "DELETE FROM agentledger.decisions",
                "TRUNCATE agentledger.decisions",
            ):
                refused(lambda s=statement: test.scope.execute(s), PermissionDenied)  # type: ignore[misc]
            assert [x.id for x in test.list_decisions()] == [d.id], "a decision went missing"
            kinds = {x.decision_type for x in repo.list_decisions()}
            assert len(kinds) == 5, kinds

        def weekly_plans() -> None:
            monday = dt.date(2026, 2, 2)
            plan = test.save_weekly_plan(
                monday,
                monday + 6 * DAY,
                [{"rank": 1, "bottleneck": "Slow reviews"}],
                conflicts=[{"on": "review time"}],
                synthesis_reasoning="Reviews first",
            )
            got = test.get_weekly_plan(monday)
            assert got == plan and got.priorities == [{"rank": 1, "bottleneck": "Slow reviews"}]
            assert got.conflicts == [{"on": "review time"}] and got.week_end == dt.date(2026, 2, 8)
            refused(
                lambda: test.save_weekly_plan(monday, monday - DAY, []), InvalidInput, "week_end"
            )
            assert test.get_weekly_plan(monday - 7 * DAY) is None
            weeks = [p.week_start for p in repo.list_weekly_plans()]
            assert weeks == [dt.date(2026, 1, 5), dt.date(2025, 12, 29)], weeks

        def notion() -> None:
            b = test.report_bottleneck("github-1", "Sync me", 5, 0.5)
            test.record_notion_sync(b.id, "page-1", "failed", synced_at=now - DAY)
            test.record_notion_sync(b.id, "page-1", "success")
            history = test.notion_sync_history(b.id)
            assert [s.sync_status for s in history] == ["failed", "success"], history
            latest = test.latest_notion_sync(b.id)
            assert latest is not None and latest.sync_status == "success"
            assert test.get_bottleneck(b.id).notion_page_id == "page-1"

        def reporting_sql() -> None:
            url = owner_url(ledger.settings)
            with reporting_login(url, tenant) as conn:
                found = analytics.normalise(analytics.run_sql(conn))
            expected = analytics.normalise(analytics.from_repository(repo))
            for name in analytics.QUERIES:
                assert found[name] == expected[name], (name, found[name], expected[name])
                assert found[name], f"{name}: no rows"

        def blocking_query() -> None:
            churn = repo.get_bottleneck(seed_data.key_id("B09"))
            blocks = {b.description for b in repo.blocking(churn.id)}
            assert blocks == {
                "Board deck waits on churn analysis",
                "Competitor pricing data is three months old",
            }, blocks
            assert set(churn.blocking) == {str(seed_data.key_id(k)) for k in ("B10", "B06")}
            billing = seed_data.key_id("B04")
            assert {b.agent_id for b in repo.blocked_by(billing)} == {
                "orchestrator",
                "github-sentinel",
            }

        def cleanup() -> None:
            ledger.tenants.archive(scratch)

        checks: list[tuple[str, Callable[[], None]]] = [
            ("Migrations current; the five areas answer with Sentinel's data", schema),
            ("Agents register with JSON config; last_run updates; weekly stays active", agents),
            ("Impact 11, confidence 1.5 and an unknown agent are refused", refusals),
            ("Workflow: pending → in_progress → resolved; resolved → pending refused", workflow),
            ("Pending bottlenecks by impact DESC, by agent and by date", ordering),
            ("The decision log cannot be deleted, even by raw SQL", audit_log),
            ("Weekly plan round trip; week_end before week_start refused", weekly_plans),
            ("Two Notion sync attempts: a history of two and the latest status", notion),
            ("Three analytics queries in SQL as a reporting login match the counts", reporting_sql),
            ("The blocking query: what a bottleneck blocks and is blocked by", blocking_query),
            ("Clean up the scratch tenant", cleanup),
        ]
        for i, (name, check) in enumerate(checks, 1):
            try:
                check()
            except Exception as exc:
                ok = False
                print(f"{i}. {name} ✗ {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            else:
                print(f"{i}. {name} ✓")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
