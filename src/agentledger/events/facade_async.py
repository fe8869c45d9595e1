"""The bound tenant's event log: the async façade."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async, run_naming_async
from agentledger.events import ops
from agentledger.events.records import Appended, NewEvent
from agentledger.ids import new_id


class AsyncEvents(AsyncFacade):
    """Append to and read the append-only log; save subscribers' checkpoints."""

    async def append(
        self,
        stream: str,
        type: str,
        payload: dict[str, Any] | None = None,
        *,
        event_id: UUID | str | None = None,
        actor_type: str = "system",
        actor_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        expected_version: int | None = None,
        at: dt.datetime | None = None,
    ) -> Appended:
        """Append one event. ``expected_version``: the stream's version before it (0: new),
        else VersionConflict. A repeated ``event_id`` returns ``already_appended=True``; one
        is made here when not given, so a retry or a spool replay repeats the same event.
        ``at`` is when it happened (its ``created_at``; default now), not its position."""
        return await run_naming_async(
            self._run,
            ops.append_fields(
                stream,
                type,
                payload,
                event_id=new_id() if event_id is None else event_id,
                actor_type=actor_type,
                actor_id=actor_id,
                metadata=metadata,
                expected_version=expected_version,
                at=at,
            ),
            "event_id",
        )

    async def append_many(
        self, events: Sequence[NewEvent], *, expected_versions: Mapping[str, int] | None = None
    ) -> list[Appended]:
        """Append a batch in one round trip, atomically; results in the input's order. An
        event without an ``event_id`` gets one here, so the library's retry of the call
        (after a connection lost while committing) repeats the same events."""
        return await self._run(ops.append(events, expected_versions, ids=ops.made_ids(events)))

    get = forward_async(ops.get)
    exists = forward_async(ops.exists)
    stream_version = forward_async(ops.stream_version)
    read_stream = forward_async(ops.read_stream)
    recent = forward_async(ops.recent)
    read_all = forward_async(ops.read_all)

    async def save_checkpoint(self, subscriber: str, position: int) -> None:
        await self._run(ops.save_checkpoint(subscriber, position))

    checkpoint = forward_async(ops.checkpoint)
