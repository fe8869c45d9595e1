"""Decision records and acceptance statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

STATS_KEYS = ("decision_type", "agent")
PERIODS = ("day", "week", "month")


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    id: UUID
    decision: str
    reasoning: str
    confidence: float | None
    decision_type: str
    data: dict[str, Any]
    agent: str | None
    run_id: UUID | None
    created_at: datetime
    accepted: bool | None
    feedback_reason: str | None
    feedback_by: str | None
    feedback_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceptanceStat:
    """Decisions of one group (None where the group key was not asked for)."""

    decision_type: str | None
    agent: str | None
    period_start: datetime | None
    decisions: int
    with_feedback: int
    accepted: int
    rejected: int
    acceptance_rate: float | None  # accepted / with_feedback
