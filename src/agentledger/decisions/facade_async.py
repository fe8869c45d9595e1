"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_async import AsyncRunner
from agentledger.db.forward import forward_async
from agentledger.decisions import ops
from agentledger.decisions.records import Decision


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

    record_feedback = forward_async(ops.record_feedback)
    get = forward_async(ops.get)
    acceptance_stats = forward_async(ops.acceptance_stats)
    list = forward_async(ops.list_)
