"""Sentinel's data, loaded with one command:

    python examples/sentinel_adr002/seed_data.py

Four agents (research, github, orchestrator), twenty bottlenecks with blocking relations
across the four statuses, decisions of five types, two weeks of plans and Notion syncs,
all at fixed times with fixed ids, so loading again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agentledger import Ledger
from examples.sentinel_adr002.repository import TENANT, SentinelRepository

NS = uuid.UUID("5e0c1a7e-ad02-4002-8000-000000000003")
T0 = dt.datetime(2025, 12, 29, 8, 0, tzinfo=dt.UTC)  # the Monday after the ADR

AGENTS: list[dict[str, Any]] = [
    {
        "agent_id": "research-market",
        "agent_type": "research",
        "domain": "market",
        "config": {"schedule": "weekly", "sources": ["news", "filings"], "model": "sonnet"},
    },
    {
        "agent_id": "research-tech",
        "agent_type": "research",
        "domain": "technology",
        "config": {"schedule": "weekly", "sources": ["arxiv", "blogs"]},
    },
    {
        "agent_id": "github-sentinel",
        "agent_type": "github",
        "domain": "engineering",
        "config": {"schedule": "weekly", "repos": ["sentinel/core", "sentinel/ui"]},
    },
    {
        "agent_id": "orchestrator",
        "agent_type": "orchestrator",
        "domain": None,
        "config": {"schedule": "weekly", "plan_day": "monday"},
    },
]

# (key, agent, description, impact, confidence, status, days after T0, keys it blocks)
BOTTLENECKS: list[tuple[str, str, str, float, float, str, int, list[str]]] = [
    (
        "B01",
        "github-sentinel",
        "CI pipeline takes 40 minutes per PR",
        8.5,
        0.9,
        "pending",
        0,
        ["B02", "B05"],
    ),
    (
        "B02",
        "github-sentinel",
        "Flaky integration tests block merges",
        7.5,
        0.8,
        "pending",
        1,
        ["B03"],
    ),
    ("B03", "github-sentinel", "Release branch diverged from main", 6.0, 0.7, "in_progress", 1, []),
    ("B04", "github-sentinel", "No code owner for the billing service", 5.5, 0.6, "pending", 2, []),
    (
        "B05",
        "github-sentinel",
        "Docker images rebuilt from scratch each run",
        6.5,
        0.85,
        "resolved",
        2,
        [],
    ),
    (
        "B06",
        "research-market",
        "Competitor pricing data is three months old",
        7.0,
        0.75,
        "pending",
        3,
        ["B07"],
    ),
    (
        "B07",
        "research-market",
        "No owner for the quarterly market report",
        4.5,
        0.6,
        "pending",
        3,
        [],
    ),
    ("B08", "research-market", "Analyst interviews not transcribed", 3.0, 0.5, "ignored", 4, []),
    (
        "B09",
        "research-market",
        "Customer churn numbers disagree across teams",
        9.0,
        0.8,
        "in_progress",
        4,
        ["B10", "B06"],
    ),
    ("B10", "research-market", "Board deck waits on churn analysis", 8.0, 0.7, "pending", 5, []),
    ("B11", "research-tech", "Vector search evaluation stalled", 6.5, 0.65, "pending", 5, ["B12"]),
    ("B12", "research-tech", "Embedding model choice undecided", 7.0, 0.7, "pending", 6, []),
    (
        "B13",
        "research-tech",
        "GPU quota request pending for two weeks",
        8.0,
        0.9,
        "resolved",
        6,
        ["B11"],
    ),
    ("B14", "research-tech", "Prototype lacks an evaluation dataset", 5.0, 0.55, "pending", 7, []),
    (
        "B15",
        "research-tech",
        "Literature review duplicated by two teams",
        2.5,
        0.8,
        "ignored",
        8,
        [],
    ),
    (
        "B16",
        "orchestrator",
        "Weekly priorities conflict between teams",
        7.5,
        0.7,
        "pending",
        7,
        ["B04"],
    ),
    (
        "B17",
        "orchestrator",
        "Notion workspace permissions block sync",
        6.0,
        0.95,
        "resolved",
        8,
        [],
    ),
    ("B18", "orchestrator", "Plan synthesis misses GitHub signals", 5.5, 0.6, "in_progress", 9, []),
    (
        "B19",
        "github-sentinel",
        "Security alerts unassigned for a week",
        9.5,
        0.85,
        "pending",
        10,
        ["B04"],
    ),
    ("B20", "research-tech", "Benchmark results not reproducible", 4.0, 0.5, "pending", 11, []),
]

# (key, agent, decision_type, decision_data, reasoning, confidence, days after T0)
DECISIONS: list[tuple[str, str, str, dict[str, Any], str, float, int]] = [
    (
        "D01",
        "orchestrator",
        "prioritization",
        {"decision": "CI speed first", "bottleneck": "B01"},
        "Blocks two others",
        0.85,
        0,
    ),
    (
        "D02",
        "orchestrator",
        "prioritization",
        {"decision": "Churn analysis before board deck"},
        "B09 blocks B10",
        0.8,
        1,
    ),
    (
        "D03",
        "github-sentinel",
        "escalation",
        {"decision": "Escalate security alerts", "to": "CTO"},
        "Unassigned a week",
        0.9,
        10,
    ),
    (
        "D04",
        "github-sentinel",
        "assignment",
        {"decision": "Assign billing owner", "owner": "ana"},
        "No code owner",
        0.6,
        2,
    ),
    (
        "D05",
        "research-market",
        "resource_allocation",
        {"decision": "Buy pricing data feed"},
        "Data is stale",
        0.7,
        3,
    ),
    (
        "D06",
        "research-tech",
        "resource_allocation",
        {"decision": "Request GPU quota"},
        "Evaluation stalled",
        0.75,
        6,
    ),
    (
        "D07",
        "research-tech",
        "deprioritization",
        {"decision": "Drop duplicate review"},
        "Two teams on it",
        0.8,
        8,
    ),
    (
        "D08",
        "research-market",
        "deprioritization",
        {"decision": "Skip transcripts"},
        "Low impact",
        0.55,
        4,
    ),
    (
        "D09",
        "orchestrator",
        "escalation",
        {"decision": "Escalate Notion permissions"},
        "Sync blocked",
        0.95,
        8,
    ),
    (
        "D10",
        "orchestrator",
        "prioritization",
        {"decision": "Security before features"},
        "Impact 9.5",
        0.9,
        10,
    ),
]

PLANS: list[dict[str, Any]] = [
    {
        "week_start": dt.date(2025, 12, 29),
        "week_end": dt.date(2026, 1, 4),
        "priorities": [
            {"rank": 1, "bottleneck": "B01", "why": "CI blocks every team"},
            {"rank": 2, "bottleneck": "B09", "why": "Board needs churn numbers"},
        ],
        "conflicts": [{"between": ["research-market", "github-sentinel"], "on": "analyst time"}],
        "synthesis_reasoning": "CI speed unblocks the most work; churn is due to the board.",
    },
    {
        "week_start": dt.date(2026, 1, 5),
        "week_end": dt.date(2026, 1, 11),
        "priorities": [
            {"rank": 1, "bottleneck": "B19", "why": "Security alerts unassigned"},
            {"rank": 2, "bottleneck": "B16", "why": "Teams disagree on priorities"},
            {"rank": 3, "bottleneck": "B12", "why": "Unblocks vector search"},
        ],
        "conflicts": [],
        "synthesis_reasoning": "Security first; then settle priorities and the model choice.",
    },
]

# (key, bottleneck, page, status, days after T0)
SYNCS: list[tuple[str, str, str, str, int]] = [
    ("S01", "B17", "notion-page-b17", "failed", 8),
    ("S02", "B17", "notion-page-b17", "success", 9),
    ("S03", "B01", "notion-page-b01", "success", 1),
    ("S04", "B19", "notion-page-b19", "pending", 10),
]


def key_id(key: str) -> uuid.UUID:
    """The fixed id of a seed row, from its key."""
    return uuid.uuid5(NS, key)


def load(repo: SentinelRepository) -> dict[str, int]:
    """Load everything (again: nothing changes); the number of rows of each table."""
    for agent in AGENTS:
        repo.register_agent(**agent)
    for key, agent_id, text, impact, conf, _status, day, _blocks in BOTTLENECKS:
        repo.report_bottleneck(
            agent_id,
            text,
            impact,
            conf,
            recommended_action=f"Assign an owner to: {text.lower()}",
            reasoning=f"Reported by {agent_id} with confidence {conf}",
            identified_at=T0 + dt.timedelta(days=day),
            id=key_id(key),
        )
    for key, _agent, _text, _impact, _conf, status, day, blocks in BOTTLENECKS:
        for other in blocks:
            repo.add_blocking(key_id(key), key_id(other))
        current = repo.get_bottleneck(key_id(key)).status
        started, closed = (T0 + dt.timedelta(days=day + n) for n in (1, 3))
        if status in ("in_progress", "resolved") and current == "pending":
            repo.start_bottleneck(key_id(key), by="orchestrator", at=started)
            current = "in_progress"
        if status == "resolved" and current == "in_progress":
            repo.resolve_bottleneck(key_id(key), by="orchestrator", at=closed)
        if status == "ignored" and current == "pending":
            repo.ignore_bottleneck(key_id(key), by="orchestrator", reason="low impact", at=started)
    for key, agent_id, kind, data, why, conf, day in DECISIONS:
        repo.log_decision(
            agent_id,
            kind,
            data,
            reasoning=why,
            confidence=conf,
            timestamp=T0 + dt.timedelta(days=day, hours=1),
            id=key_id(key),
        )
    for i, plan in enumerate(PLANS):
        repo.save_weekly_plan(**plan, created_at=T0 + dt.timedelta(days=7 * i, hours=-1))
    for key, bottleneck, page, status, day in SYNCS:
        repo.record_notion_sync(
            key_id(bottleneck),
            page,
            status,
            synced_at=T0 + dt.timedelta(days=day, hours=3),
            id=key_id(key),
        )
    for agent in AGENTS:  # each agent's first weekly run: last_run is now, still active
        if repo.get_agent(agent["agent_id"]).last_run is None:
            repo.record_run(agent["agent_id"], started_at=T0)
    return counts(repo)


def counts(repo: SentinelRepository) -> dict[str, int]:
    """Rows per seed table in the repository's tenant."""
    bottlenecks = repo.list_bottlenecks()
    return {
        "agents": len(repo.list_agents()),
        "bottlenecks": len(bottlenecks),
        "blocking": sum(len(b.blocking) for b in bottlenecks),
        "decisions": len(repo.list_decisions()),
        "weekly_plans": len(repo.list_weekly_plans()),
        "notion_sync": sum(len(repo.notion_sync_history(b.id)) for b in bottlenecks),
    }


def main(argv: list[str] | None = None) -> int:
    tenant = (argv or sys.argv[1:] or [TENANT])[0]
    with Ledger.from_env() as ledger:
        loaded = load(SentinelRepository(ledger, tenant=tenant))
    print(f"loaded into tenant {tenant!r}: " + ", ".join(f"{n} {k}" for k, n in loaded.items()))
    return 0


__all__ = ["AGENTS", "BOTTLENECKS", "DECISIONS", "PLANS", "SYNCS", "counts", "key_id", "load"]

if __name__ == "__main__":
    raise SystemExit(main())
