# Generated from src/agentledger/decisions/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_sync import Runner
from agentledger.db.forward import forward_sync
from agentledger.decisions import ops
from agentledger.decisions.records import Decision


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

    record_feedback = forward_sync(ops.record_feedback)
    get = forward_sync(ops.get)
    acceptance_stats = forward_sync(ops.acceptance_stats)
    list = forward_sync(ops.list_)
