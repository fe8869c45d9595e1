"""The bound tenant's collaborative sessions: async façade."""

from __future__ import annotations

from uuid import UUID

from agentledger.db.facade_async import AsyncFacade, drain_async
from agentledger.db.forward import forward_async
from agentledger.sessions import content as texts, language, ops
from agentledger.sessions.records import (
    ChunkHit,
    Session,
    SessionSummary,
)


class AsyncSessions(AsyncFacade):
    """Sessions of people and agents: their conversation chunks (any size, searchable) and
    versioned artifacts. Each change appends an event to the stream ``session:<id>``."""

    create = forward_async(ops.create, new_id="id")
    get = forward_async(ops.get)

    async def get_summary(
        self, session_id: UUID | str, *, chunks: int = 5, memories: int = 5
    ) -> SessionSummary:
        """The session, its latest chunks, the latest version of each artifact and its latest
        memories (newest change first)."""
        return await self._run(ops.summary(session_id, chunks=chunks, memories=memories))

    update = forward_async(ops.update)
    transition = forward_async(ops.transition)

    async def pause(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return await self.transition(session_id, "pause", by=by)

    async def resume(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return await self.transition(session_id, "resume", by=by)

    async def complete(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return await self.transition(session_id, "complete", by=by)

    async def archive(self, session_id: UUID | str, *, by: str | None = None) -> Session:
        return await self.transition(session_id, "archive", by=by)

    delete = forward_async(ops.delete)

    async def purge(self, older_than_days: float, *, batch: int = 500) -> int:
        """Retention: delete completed and archived sessions idle for more than
        ``older_than_days`` days, ``batch`` per transaction; returns how many."""
        total, _ = await drain_async(
            self._run, lambda: ops.purge_batch(older_than_days, batch=batch), batch
        )
        return total

    transitions = forward_async(ops.transitions)
    add_chunk = forward_async(texts.add_chunk, new_id="id")
    get_chunk = forward_async(texts.get_chunk)
    chunk_info = forward_async(texts.chunk_info)
    chunk_segments = forward_async(texts.chunk_segments)
    list_chunks = forward_async(texts.list_chunks)

    async def search(
        self,
        query: str,
        *,
        session_id: UUID | str | None = None,
        format: str | None = None,
        limit: int = 20,
    ) -> list[ChunkHit]:
        """Full-text search over every chunk (web search syntax), best first: in one
        session, in its language; across the tenant, in every language its sessions use
        (the tenant's and the sessions' own). A query matching more segments than a search
        reads (common words) is ranked over a bounded sample of its matches; see
        docs/sessions.md."""
        return await self._run(
            texts.search_chunks(query, session_id=session_id, format=format, limit=limit)
        )

    save_artifact = forward_async(texts.save_artifact, new_id="id")
    get_artifact = forward_async(texts.get_artifact)
    find_artifact = forward_async(texts.find_artifact)
    artifact_versions = forward_async(texts.artifact_versions)
    list_artifacts = forward_async(texts.list_artifacts)
    artifact_segments = forward_async(texts.artifact_segments)
    search_artifacts = forward_async(texts.search_artifacts)
    set_language = forward_async(language.set_language)
    language_status = forward_async(language.language_status)

    async def reindex(self, *, batch_size: int = 500, session_id: UUID | str | None = None) -> int:
        """Index the stored chunks and artifacts (of ``session_id``, or of every session)
        again in their language (their session's, else the tenant's) after
        ``memory.set_language`` or ``set_language``, ``batch_size`` segments per
        transaction (each a short one that skips rows others hold; inside ``transaction()``
        they share it); how many were. Until then a segment stays indexed in the language
        it was written in, and a query in the new language may miss it. Interrupted,
        calling it again finishes."""
        done, _ = await drain_async(
            self._run,
            lambda: texts.reindex_batch(batch_size=batch_size, session_id=session_id),
            batch_size,
        )
        return done

    list = forward_async(ops.list_)
