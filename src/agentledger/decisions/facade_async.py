"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_async import AsyncRunner
from agentledger.decisions import ops
from agentledger.decisions.records import AcceptanceStat, Decision


class AsyncDecisions:
    """Record decisions (never deleted), take feedback once, report acceptance."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run

    async def record(
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
        return await self._run(
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

    async def record_feedback(
        self,
        decision_id: UUID | str,
        accepted: bool,
        *,
        reason: str | None = None,
        by: str | None = None,
    ) -> Decision:
        """Feedback is set once: the same again is a no-op, different feedback a Conflict."""
        return await self._run(ops.record_feedback(decision_id, accepted, reason=reason, by=by))

    async def get(self, decision_id: UUID | str) -> Decision:
        return await self._run(ops.get(decision_id))

    async def acceptance_stats(
        self,
        *,
        by: Sequence[str] = ("decision_type",),
        period: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AcceptanceStat]:
        return await self._run(ops.acceptance_stats(by=by, period=period, since=since, until=until))

    async def list(
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
        return await self._run(
            ops.list_(
                decision_type=decision_type,
                agent=agent,
                run_id=run_id,
                awaiting_feedback=awaiting_feedback,
                before=before,
                limit=limit,
            )
        )
