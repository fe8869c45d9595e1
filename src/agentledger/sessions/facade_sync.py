# Generated from src/agentledger/sessions/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's collaborative sessions: async façade."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from agentledger.db.database_sync import Runner
from agentledger.sessions import content, ops
from agentledger.sessions.records import (
    Artifact,
    ArtifactHit,
    ArtifactInfo,
    Chunk,
    ChunkHit,
    ChunkInfo,
    Session,
    SessionSummary,
)


class Sessions:
    """Sessions of people and agents: their conversation chunks (any size, searchable) and
    versioned artifacts. Each change appends an event to the stream ``session:<id>``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def create(
        self,
        title: str,
        *,
        participants: Sequence[str] | None = None,
        summary: str = "",
        metadata: dict[str, Any] | None = None,
        id: UUID | str | None = None,
    ) -> Session:
        """An active session; the same ``id`` again returns it (a retry is safe)."""
        return self._run(
            ops.create(
                title,
                participants=participants,
                summary=summary,
                metadata=metadata,
                id=uuid.uuid4() if id is None else id,
            )
        )

    def get(self, session_id: UUID | str) -> Session:
        return self._run(ops.get(session_id))

    def get_summary(self, session_id: UUID | str, *, chunks: int = 5) -> SessionSummary:
        """The session, its latest chunks and the latest version of each artifact."""
        return self._run(ops.summary(session_id, chunks=chunks))

    def update(
        self,
        session_id: UUID | str,
        *,
        title: str | None = None,
        participants: Sequence[str] | None = None,
        summary: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Session:
        """Change the title, participants, summary or metadata (None keeps each)."""
        return self._run(
            ops.update(
                session_id,
                title=title,
                participants=participants,
                summary=summary,
                metadata=metadata,
            )
        )

    def transition(self, session_id: UUID | str, action: str, *, by: str | None = None) -> Session:
        """``pause``, ``resume``, ``complete`` or ``archive`` (IllegalTransition otherwise)."""
        return self._run(ops.transition(session_id, action, by=by))

    def pause(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return self.transition(session_id, "pause", by=by)

    def resume(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return self.transition(session_id, "resume", by=by)

    def complete(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return self.transition(session_id, "complete", by=by)

    def archive(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return self.transition(session_id, "archive", by=by)

    def delete(self, session_id: UUID | str) -> bool:
        """Delete a session with all its chunks and artifacts; False when it did not exist."""
        return self._run(ops.delete(session_id))

    def purge(self, older_than_days: float, *, batch: int = 500) -> int:
        """Retention: delete completed and archived sessions idle for more than
        ``older_than_days`` days, ``batch`` per transaction; returns how many."""
        total = 0
        while True:
            done = self._run(ops.purge_batch(older_than_days, batch=batch))
            total += done
            if done < batch:
                return total

    def transitions(self) -> list[tuple[str, str, str]]:
        """The lifecycle the database enforces, as (from, action, to) rows."""
        return self._run(ops.transitions())

    def add_chunk(
        self,
        session_id: UUID | str,
        content_: str | bytes,
        *,
        format: str = "dialogue",
        author: str | None = None,
        extracted: Any = None,
        id: UUID | str | None = None,
    ) -> ChunkInfo:
        """Append conversation text of any size (up to MAX_CONTENT_CHARS) as the session's
        next chunk; ``format`` is dialogue, summary or transcript."""
        return self._run(
            content.add_chunk(
                session_id,
                content_,
                format=format,
                author=author,
                extracted=extracted,
                id=uuid.uuid4() if id is None else id,
            )
        )

    def get_chunk(self, chunk_id: UUID | str) -> Chunk:
        return self._run(content.get_chunk(chunk_id))

    def chunk_info(self, chunk_id: UUID | str) -> ChunkInfo:
        """A chunk's description, without its content."""
        return self._run(content.chunk_info(chunk_id))

    def chunk_segments(
        self, chunk_id: UUID | str, *, start: int = 0, limit: int = content.READ_BATCH
    ) -> list[str]:
        """A run of the chunk's segments (for streaming large content)."""
        return self._run(content.chunk_segments(chunk_id, start=start, limit=limit))

    def list_chunks(
        self,
        session_id: UUID | str,
        *,
        format: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[ChunkInfo]:
        """Chunks in seq order after seq ``after``, without content."""
        return self._run(content.list_chunks(session_id, format=format, after=after, limit=limit))

    def search(
        self,
        query: str,
        *,
        session_id: UUID | str | None = None,
        format: str | None = None,
        limit: int = 20,
    ) -> list[ChunkHit]:
        """Full-text search over every chunk (web search syntax), best first."""
        return self._run(
            content.search_chunks(query, session_id_=session_id, format=format, limit=limit)
        )

    def save_artifact(
        self,
        session_id: UUID | str,
        name: str,
        content_: str | bytes,
        *,
        artifact_type: str,
        format: str = "text",
        metadata: dict[str, Any] | None = None,
        author: str | None = None,
        id: UUID | str | None = None,
    ) -> ArtifactInfo:
        """Save the next version of the session's artifact ``name``."""
        return self._run(
            content.save_artifact(
                session_id,
                name,
                content_,
                artifact_type=artifact_type,
                format=format,
                metadata=metadata,
                author=author,
                id=uuid.uuid4() if id is None else id,
            )
        )

    def get_artifact(
        self, session_id: UUID | str, name: str, *, version: int | None = None
    ) -> Artifact:
        """The latest version of ``name`` (or ``version``) with its content."""
        return self._run(content.get_artifact(session_id, name, version=version))

    def find_artifact(
        self, session_id: UUID | str, name: str, *, version: int | None = None
    ) -> ArtifactInfo:
        """Like get_artifact, without the content."""
        return self._run(content.find_artifact(session_id, name, version=version))

    def artifact_versions(self, session_id: UUID | str, name: str) -> list[ArtifactInfo]:
        return self._run(content.artifact_versions(session_id, name))

    def list_artifacts(self, session_id: UUID | str) -> list[ArtifactInfo]:
        return self._run(content.list_artifacts(session_id))

    def artifact_segments(
        self, artifact_id: UUID | str, *, start: int = 0, limit: int = content.READ_BATCH
    ) -> list[str]:
        """A run of an artifact version's segments (for streaming large content)."""
        return self._run(content.artifact_segments(artifact_id, start=start, limit=limit))

    def search_artifacts(
        self,
        query: str,
        *,
        session_id: UUID | str | None = None,
        artifact_type: str | None = None,
        all_versions: bool = False,
        limit: int = 20,
    ) -> list[ArtifactHit]:
        """Full-text search over artifacts (each name's latest version unless
        ``all_versions``), best first."""
        return self._run(
            content.search_artifacts(
                query,
                session_id_=session_id,
                artifact_type=artifact_type,
                all_versions=all_versions,
                limit=limit,
            )
        )

    def list(
        self,
        *,
        status: str | None = None,
        participant: str | None = None,
        active_since: dt.datetime | None = None,
        active_until: dt.datetime | None = None,
        before: tuple[dt.datetime, UUID | str] | None = None,
        limit: int = 100,
    ) -> list[Session]:
        """Newest activity first; pass the last one's ``(last_activity, id)`` as ``before``
        for the next page."""
        return self._run(
            ops.list_(
                status=status,
                participant=participant,
                active_since=active_since,
                active_until=active_until,
                before=before,
                limit=limit,
            )
        )
