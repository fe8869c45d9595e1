"""The rows of ADR-002's five tables, with the seed's field names."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Agent:
    """A row of ``agents``: ``status`` is ``active``, ``running``, ``inactive`` or
    ``error``; a scheduled agent stays ``active`` between its runs."""

    agent_id: str
    agent_type: str
    domain: str | None
    config: dict[str, Any]
    created_at: dt.datetime
    last_run: dt.datetime | None
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Bottleneck:
    """A row of ``bottlenecks``. ``id`` is a UUID string; ``blocking`` lists the ids of
    the bottlenecks this one blocks."""

    id: str
    agent_id: str
    description: str
    impact_score: float
    confidence: float
    blocking: list[str]
    recommended_action: str | None
    reasoning: str | None
    status: str
    identified_at: dt.datetime
    resolved_at: dt.datetime | None
    notion_page_id: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """A row of ``decisions``, the audit log: never changed, never deleted."""

    id: str
    agent_id: str
    decision_type: str
    decision_data: dict[str, Any]
    reasoning: str | None
    confidence: float | None
    timestamp: dt.datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class WeeklyPlan:
    """A row of ``weekly_plans``: the plan of the week starting ``week_start``; saving the
    week again makes a new ``version``, and the latest is the week's plan."""

    week_start: dt.date
    week_end: dt.date
    priorities: Any
    conflicts: list[Any]
    synthesis_reasoning: str | None
    created_at: dt.datetime
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class NotionSync:
    """A row of ``notion_sync``: one attempt to sync a bottleneck to a Notion page."""

    id: str
    bottleneck_id: str
    notion_page_id: str
    synced_at: dt.datetime
    sync_status: str
