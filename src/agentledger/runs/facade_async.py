"""The bound tenant's run log: the async façade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_async import AsyncRunner
from agentledger.db.forward import forward_async
from agentledger.runs import ops
from agentledger.runs.records import Run


class AsyncRuns:
    """Log each trigger a pipeline handles: start it, finish it, read and summarise runs."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run

    async def start(
        self,
        trigger_type: str,
        *,
        source_id: str | None = None,
        content: str | None = None,
        priority: str | None = None,
        entity_ref: str | None = None,
        metadata: dict[str, Any] | None = None,
        id: UUID | str | None = None,
        at: datetime | None = None,
    ) -> Run:
        """Log a started run; long content is kept truncated with a marker. The id is made
        here when not given, so a retry or a spool replay repeats the same run."""
        return await self._run(
            ops.start(
                trigger_type,
                source_id=source_id,
                content=content,
                priority=priority,
                entity_ref=entity_ref,
                metadata=metadata,
                id=uuid.uuid4() if id is None else id,
                at=at,
            )
        )

    finish = forward_async(ops.finish)
    get = forward_async(ops.get)
    stats = forward_async(ops.stats)
    list = forward_async(ops.list_)
