"""Seed 003 end to end: the check script, the one-command loader, and the hard cases: the
audit log and the workflow held by the database against raw SQL, a weekly agent that never
goes offline, retried writes stored once, cycles and foreign ids refused."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from agentledger import Conflict, InvalidInput, Ledger, LedgerError, NotFound
from examples.sentinel_adr002 import SentinelRepository, seed_data
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "sentinel_adr002"
CHECKS = 11


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(data_dir), "PATH": ""}


@pytest.fixture
def repo(sync_ledger: Ledger) -> SentinelRepository:
    return SentinelRepository(sync_ledger, tenant=f"adr-{uuid.uuid4().hex[:10]}")


def test_the_script_prints_a_tick_per_criterion(database_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "scripts" / "check.py")],
        env=_env(database_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == CHECKS and all(line.endswith("✓") for line in lines), result.stdout


def test_the_loader_is_one_command_and_idempotent(
    database_url: str, tmp_path: Path, sync_ledger: Ledger
) -> None:
    tenant = f"adr-load-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "seed_data.py"), tenant],
        env=_env(database_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "4 agents, 20 bottlenecks, 10 blocking, 10 decisions" in result.stdout, result.stdout
    repo = SentinelRepository(sync_ledger, tenant=tenant)
    before = repo.list_bottlenecks()
    assert seed_data.load(repo) == seed_data.counts(repo)  # again: nothing new
    assert repo.list_bottlenecks() == before  # fixed times and ids: the same listing
    assert len(repo.scope.runs.list(limit=100)) == 4  # one run per agent, not two
    assert [p.version for p in repo.list_weekly_plans()] == [1, 1]
    resolved = repo.list_bottlenecks(status="resolved")
    assert all(b.resolved_at is not None and b.resolved_at > b.identified_at for b in resolved)
    assert {b.description for b in resolved} >= {"GPU quota request pending for two weeks"}


def test_a_weekly_agent_stays_active_when_its_heartbeat_is_old(
    repo: SentinelRepository, database_url: str
) -> None:
    repo.register_agent("weekly", "research", config={"schedule": "weekly"})
    repo.scope.agents.register("watched", heartbeat_timeout=60)  # a registry default agent
    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute(
            "UPDATE agentledger.agents SET last_heartbeat_at = %s, last_run_at = %s"
            " WHERE tenant_id = %s",
            [week_ago, week_ago, repo.tenant],
        )
    assert repo.get_agent("weekly").status == "active"
    assert repo.scope.agents.get("watched").status == "offline"
    assert [a.agent_id for a in repo.list_agents(status="active")] == ["weekly"]
    assert repo.get_agent("weekly").last_run == week_ago


def test_raw_sql_as_the_app_role_neither_deletes_decisions_nor_skips_a_step(
    repo: SentinelRepository, app_url: str
) -> None:
    repo.register_agent("gh", "github")
    decision = repo.log_decision("gh", "escalation", {"decision": "page"}, confidence=0.9)
    done = repo.report_bottleneck("gh", "Done", 5, 0.5)
    repo.start_bottleneck(done.id)
    repo.resolve_bottleneck(done.id)
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", [repo.tenant])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM agentledger.decisions WHERE id = %s", [decision.id])
        conn.rollback()
        conn.execute("SELECT agentledger.bind_tenant(%s)", [repo.tenant])
        with pytest.raises(psycopg.Error) as info:
            conn.execute("UPDATE agentledger.cases SET status = 'pending' WHERE id = %s", [done.id])
        assert info.value.sqlstate == "ALIT0", info.value  # the illegal-transition guard
    assert [d.id for d in repo.list_decisions()] == [decision.id]
    assert repo.get_bottleneck(done.id).status == "resolved"


def test_bad_input_names_the_seed_field_and_writes_nothing(repo: SentinelRepository) -> None:
    repo.register_agent("gh", "github")
    cases: list[tuple[Callable[[], object], type[LedgerError], str]] = [
        (lambda: repo.report_bottleneck("gh", "x", -0.1, 0.5), InvalidInput, "impact_score"),
        (lambda: repo.report_bottleneck("gh", "x", 5, -1), InvalidInput, "confidence"),
        (lambda: repo.report_bottleneck("gh", "", 5, 0.5), InvalidInput, "description"),
        (lambda: repo.register_agent("a", "research", status="offline"), InvalidInput, "status"),
        (lambda: repo.list_bottlenecks(status="done"), InvalidInput, "status"),
        (lambda: repo.log_decision("gh", "t", {}, confidence=2), InvalidInput, "confidence"),
        (lambda: repo.get_agent("ghost"), NotFound, "agent_id"),
        (
            lambda: repo.save_weekly_plan(
                dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.date(2026, 1, 11), []
            ),
            InvalidInput,
            "week_start",
        ),
        (
            lambda: repo.save_weekly_plan(dt.date(2026, 1, 5), dt.date(2026, 1, 11), None),
            InvalidInput,
            "priorities",
        ),
    ]
    for call, error, field in cases:
        with pytest.raises(error) as info:
            call()
        assert info.value.field == field, (field, info.value)
    assert repo.list_bottlenecks() == [] and repo.list_decisions() == []
    assert [a.agent_id for a in repo.list_agents()] == ["gh"]
    assert repo.list_weekly_plans() == []


def test_blocking_refuses_cycles_and_retries_store_once(repo: SentinelRepository) -> None:
    repo.register_agent("gh", "github")
    a = repo.report_bottleneck("gh", "A", 5, 0.5)
    b = repo.report_bottleneck("gh", "B", 6, 0.5, blocking=[a.id])
    c = repo.report_bottleneck("gh", "C", 7, 0.5, blocking=[b.id])
    with pytest.raises(Conflict):
        repo.add_blocking(a.id, c.id)  # a → c would close c → b → a
    assert repo.add_blocking(b.id, a.id) is False  # already there
    assert [x.id for x in repo.blocked_by(a.id)] == [b.id]
    again = repo.report_bottleneck("gh", "C", 7, 0.5, blocking=[b.id], id=c.id)
    assert again == repo.get_bottleneck(c.id) and len(repo.list_bottlenecks()) == 3
    sync = uuid.uuid4()
    for _ in range(2):
        repo.record_notion_sync(c.id, "page-c", "success", id=sync)
    assert [s.id for s in repo.notion_sync_history(c.id)] == [str(sync)]
    with pytest.raises(NotFound):
        repo.get_bottleneck(uuid.uuid4())


def test_another_tenants_bottleneck_is_not_found(
    repo: SentinelRepository, sync_ledger: Ledger
) -> None:
    repo.register_agent("gh", "github")
    mine = repo.report_bottleneck("gh", "Mine", 5, 0.5)
    other = SentinelRepository(sync_ledger, tenant=f"adr-{uuid.uuid4().hex[:10]}")
    for call in (
        lambda: other.get_bottleneck(mine.id),
        lambda: other.start_bottleneck(mine.id),
        lambda: other.record_notion_sync(mine.id, "p", "success"),
        lambda: other.notion_sync_history(mine.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert other.list_bottlenecks() == []
    assert repo.get_bottleneck(mine.id).status == "pending"


def test_a_bottleneck_listing_takes_a_limit_of_one_or_more(repo: SentinelRepository) -> None:
    repo.register_agent("gh", "github")
    for impact in (3, 9, 6):
        repo.report_bottleneck("gh", f"impact {impact}", impact, 0.5)
    for bad in (0, -5):
        with pytest.raises(InvalidInput) as info:
            repo.list_bottlenecks(limit=bad)
        assert info.value.field == "limit"
    for listing in (repo.list_decisions, repo.list_weekly_plans):  # as these answer
        with pytest.raises(InvalidInput):
            listing(limit=0)
    assert [b.impact_score for b in repo.list_bottlenecks(limit=2)] == [9, 6]
    assert len(repo.list_bottlenecks(limit=1)) == 1 and len(repo.list_bottlenecks()) == 3
