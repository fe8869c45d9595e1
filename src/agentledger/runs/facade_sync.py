# Generated from src/agentledger/runs/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's run log: the async façade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.db.database_sync import Runner
from agentledger.db.forward import forward_sync
from agentledger.runs import ops
from agentledger.runs.records import Run


class Runs:
    """Log each trigger a pipeline handles: start it, finish it, read and summarise runs."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def start(
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
        return self._run(
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

    finish = forward_sync(ops.finish)
    get = forward_sync(ops.get)
    stats = forward_sync(ops.stats)
    list = forward_sync(ops.list_)
