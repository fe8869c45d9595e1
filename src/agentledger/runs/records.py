"""Run records and the run lifecycle (started -> succeeded | failed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from agentledger.lifecycle import Lifecycle

RUN_LIFECYCLE = Lifecycle(
    "run",
    {
        "started": {"succeed": "succeeded", "fail": "failed"},
        "succeeded": {},
        "failed": {},
    },
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    id: UUID
    trigger_type: str
    source_id: str | None
    content: str | None
    priority: str | None
    entity_ref: str | None
    status: str
    duration_ms: int | None
    tokens_in: int
    tokens_out: int
    response_id: str | None
    error: str | None
    metadata: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunStat:
    """Runs of one trigger type started on one UTC day; durations of finished runs."""

    trigger_type: str
    day: date
    runs: int
    succeeded: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None
    tokens_in: int
    tokens_out: int
