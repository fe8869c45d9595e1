"""The bound tenant's run log: the async façade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_async import AsyncRunner
from agentledger.runs import ops
from agentledger.runs.records import Run, RunStat


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

    async def finish(
        self,
        run_id: UUID | str,
        *,
        error: str | None = None,
        response_id: str | None = None,
        duration_ms: int | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        at: datetime | None = None,
    ) -> Run:
        """Succeeded, or failed when ``error`` is given; a second finish is IllegalTransition."""
        return await self._run(
            ops.finish(
                run_id,
                error=error,
                response_id=response_id,
                duration_ms=duration_ms,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                at=at,
            )
        )

    async def get(self, run_id: UUID | str) -> Run:
        return await self._run(ops.get(run_id))

    async def stats(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        trigger_type: str | None = None,
    ) -> list[RunStat]:
        """Per trigger type and UTC day: count, outcomes, p50/p95 duration, tokens."""
        return await self._run(ops.stats(since=since, until=until, trigger_type=trigger_type))

    async def list(
        self,
        *,
        status: str | None = None,
        trigger_type: str | None = None,
        before: UUID | str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Newest first; pass the last run's id as ``before`` for the next page."""
        return await self._run(
            ops.list_(status=status, trigger_type=trigger_type, before=before, limit=limit)
        )
