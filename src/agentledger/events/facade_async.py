"""The bound tenant's event log: the async façade."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger.db.database_async import AsyncRunner
from agentledger.events import ops
from agentledger.events.records import Appended, Event, NewEvent


class AsyncEvents:
    """Append to and read the append-only log; save subscribers' checkpoints."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run

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
    ) -> Appended:
        """Append one event. ``expected_version``: the stream's version before it (0: new),
        else VersionConflict. A repeated ``event_id`` returns ``already_appended=True``; one
        is made here when not given, so a retry or a spool replay repeats the same event."""
        return await self._run(
            ops.append_fields(
                stream,
                type,
                payload,
                event_id=uuid.uuid4() if event_id is None else event_id,
                actor_type=actor_type,
                actor_id=actor_id,
                metadata=metadata,
                expected_version=expected_version,
            )
        )

    async def append_many(
        self, events: Sequence[NewEvent], *, expected_versions: Mapping[str, int] | None = None
    ) -> list[Appended]:
        """Append a batch in one round trip, atomically; results in the input's order."""
        return await self._run(ops.append(events, expected_versions))

    async def get(self, event_id: UUID | str) -> Event:
        return await self._run(ops.get(event_id))

    async def exists(self, event_id: UUID | str) -> bool:
        return await self._run(ops.exists(event_id))

    async def stream_version(self, stream: str) -> int:
        return await self._run(ops.stream_version(stream))

    async def read_stream(
        self,
        stream: str,
        *,
        from_version: int | None = None,
        backwards: bool = False,
        limit: int = 100,
    ) -> list[Event]:
        return await self._run(
            ops.read_stream(stream, from_version=from_version, backwards=backwards, limit=limit)
        )

    async def recent(self, *, types: Sequence[str] | None = None, limit: int = 50) -> list[Event]:
        """The latest events, newest first (for display; subscribers use ``read_all``)."""
        return await self._run(ops.recent(types=types, limit=limit))

    async def read_all(
        self, after: int = 0, *, types: Sequence[str] | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events after position ``after`` that no later commit can precede (see
        ``ops.read_all``); pass the last one's position to continue."""
        return await self._run(ops.read_all(after, types=types, limit=limit))

    async def save_checkpoint(self, subscriber: str, position: int) -> None:
        await self._run(ops.save_checkpoint(subscriber, position))

    async def checkpoint(self, subscriber: str) -> int:
        return await self._run(ops.checkpoint(subscriber))
