"""The ADR's analytics (its "Rich Query Capabilities"): three dashboard queries in plain
SQL over the reporting views, as Superset's SQL Lab would send them through a reporting
login, and the same numbers computed from the repository, to compare."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, LiteralString

import psycopg

from examples.sentinel_adr002.repository import SentinelRepository

BOTTLENECKS_BY_STATUS_AND_AGENT: LiteralString = """
-- Bottlenecks by status and reporting agent, with their average impact
SELECT status, source AS agent_id, count(*) AS bottlenecks,
       avg(score) AS average_impact
FROM agentledger_reporting.cases
WHERE kind = 'bottleneck'
GROUP BY status, source
ORDER BY status, agent_id
"""

DECISIONS_BY_AGENT_AND_TYPE: LiteralString = """
-- The decision log per agent and decision type, with the average confidence
SELECT agent AS agent_id, decision_type, count(*) AS decisions,
       avg(confidence) AS average_confidence
FROM agentledger_reporting.decisions
GROUP BY agent, decision_type
ORDER BY agent_id, decision_type
"""

PENDING_BY_AGENT_TYPE: LiteralString = """
-- Pending bottlenecks per agent type: how many, the highest impact, how many they block
SELECT a.agent_type, count(DISTINCT c.case_id) AS pending,
       max(c.score) AS top_impact, count(b.blocked_id) AS blocks
FROM agentledger_reporting.cases c
JOIN agentledger_reporting.agents a ON a.tenant_id = c.tenant_id AND a.name = c.source
LEFT JOIN agentledger_reporting.case_blocks b
       ON b.tenant_id = c.tenant_id AND b.blocker_id = c.case_id
WHERE c.kind = 'bottleneck' AND c.status = 'pending'
GROUP BY a.agent_type
ORDER BY a.agent_type
"""

QUERIES: dict[str, LiteralString] = {
    "bottlenecks by status and agent": BOTTLENECKS_BY_STATUS_AND_AGENT,
    "decisions by agent and type": DECISIONS_BY_AGENT_AND_TYPE,
    "pending bottlenecks by agent type": PENDING_BY_AGENT_TYPE,
}

Rows = list[tuple[Any, ...]]


def run_sql(conn: psycopg.Connection[Any]) -> dict[str, Rows]:
    """Each query's rows, on a connection of a reporting login granted one tenant."""
    return {name: [tuple(r) for r in conn.execute(sql).fetchall()] for name, sql in QUERIES.items()}


def from_repository(repo: SentinelRepository) -> dict[str, Rows]:
    """The same numbers, from the repository's own calls, in the same shape and order."""
    bottlenecks = repo.list_bottlenecks()
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for b in bottlenecks:
        groups[(b.status, b.agent_id)].append(b.impact_score)
    by_status = [
        (status, agent, len(scores), _avg(scores))
        for (status, agent), scores in sorted(groups.items())
    ]
    decisions: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for d in repo.list_decisions():
        decisions[(d.agent_id, d.decision_type)].append(d.confidence)
    by_type = [
        (agent, kind, len(values), _avg([c for c in values if c is not None]))
        for (agent, kind), values in sorted(decisions.items())
    ]
    types = {a.agent_id: a.agent_type for a in repo.list_agents()}
    pending: dict[str, list[Any]] = defaultdict(list)
    for b in repo.list_bottlenecks(status="pending"):
        pending[types[b.agent_id]].append(b)
    by_agent_type = [
        (t, len(bs), max(b.impact_score for b in bs), sum(len(b.blocking) for b in bs))
        for t, bs in sorted(pending.items())
    ]
    return {
        "bottlenecks by status and agent": by_status,
        "decisions by agent and type": by_type,
        "pending bottlenecks by agent type": by_agent_type,
    }


def normalise(rows: dict[str, Rows]) -> dict[str, Rows]:
    """Numbers as floats rounded to six places (sums in another order differ in the last
    bits), for comparing."""
    return {name: [tuple(_num(x) for x in row) for row in found] for name, found in rows.items()}


def _avg(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _num(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return round(float(value), 6)
