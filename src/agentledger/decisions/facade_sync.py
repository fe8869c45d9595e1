# Generated from src/agentledger/decisions/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_sync import Runner
from agentledger.decisions import ops
from agentledger.decisions.records import AcceptanceStat, Decision


class Decisions:
    """Record decisions (never deleted), take feedback once, report acceptance."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def record(
        self,
        decision: str,
        *,
        decision_type: str,
        reasoning: str = "",
        confidence: float | None = None,
        data: dict[str, Any] | None = None,
        agent: str | None = None,
        run_id: UUID | str | None = None,
        id: UUID | str | None = None,
        at: datetime | None = None,
    ) -> Decision:
        """Record a decision (confidence 0..1) and append its DecisionRecorded event. The id
        is made here when not given, so a retry or a spool replay repeats the same decision."""
        return self._run(
            ops.record(
                decision,
                decision_type=decision_type,
                reasoning=reasoning,
                confidence=confidence,
                data=data,
                agent=agent,
                run_id=run_id,
                id=uuid.uuid4() if id is None else id,
                at=at,
            )
        )

    def record_feedback(
        self,
        decision_id: UUID | str,
        accepted: bool,
        *,
        reason: str | None = None,
        by: str | None = None,
    ) -> Decision:
        """Feedback is set once: the same again is a no-op, different feedback a Conflict."""
        return self._run(ops.record_feedback(decision_id, accepted, reason=reason, by=by))

    def get(self, decision_id: UUID | str) -> Decision:
        return self._run(ops.get(decision_id))

    def acceptance_stats(
        self,
        *,
        by: Sequence[str] = ("decision_type",),
        period: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AcceptanceStat]:
        return self._run(ops.acceptance_stats(by=by, period=period, since=since, until=until))

    def list(
        self,
        *,
        decision_type: str | None = None,
        agent: str | None = None,
        run_id: UUID | str | None = None,
        awaiting_feedback: bool = False,
        before: UUID | str | None = None,
        limit: int = 100,
    ) -> list[Decision]:
        """Newest first; pass the last decision's id as ``before`` for the next page."""
        return self._run(
            ops.list_(
                decision_type=decision_type,
                agent=agent,
                run_id=run_id,
                awaiting_feedback=awaiting_feedback,
                before=before,
                limit=limit,
            )
        )
