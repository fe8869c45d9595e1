"""Collaborative sessions over HTTP: sessions, their lifecycle, conversation chunks, search.

Artifacts are in ``session_artifacts.py``. Bodies are bounded by the server's
``max_body_bytes`` (413 beyond it); the library itself takes chunks up to
MAX_CONTENT_CHARS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api import pagination
from agentledger.api.auth import AdminTenant, ReaderTenant, WriterTenant
from agentledger.api.pagination import Limit
from agentledger.api.schemas import Page, Purged
from agentledger.errors import NotFound
from agentledger.sessions import Chunk, ChunkHit, ChunkInfo, Session, SessionSummary

router = APIRouter(prefix="/v1", tags=["sessions"])
Status = Literal["active", "paused", "completed", "archived"]
Format = Literal["dialogue", "summary", "transcript"]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500, examples=["Launch plan"])
    participants: list[str] = Field(default_factory=list, examples=[["ana", "codex"]])
    summary: str = Field(default="", examples=["Plan the Q3 launch"])
    metadata: dict[str, Any] = Field(default_factory=dict)
    language: str | None = Field(
        default=None,
        examples=["german"],
        description="The text-search configuration of its chunks and artifacts (null: the "
        "tenant's).",
    )
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")


class SessionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    participants: list[str] | None = None
    summary: str | None = Field(default=None, examples=["Agreed to ship on Monday"])
    metadata: dict[str, Any] | None = Field(default=None, description="Replaces the stored object.")


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["pause", "resume", "complete", "archive"] = Field(examples=["pause"])
    by: str | None = Field(default=None, max_length=200, examples=["ana"])


class ChunkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, examples=["ana: shall we ship?\ncodex: yes"])
    format: Format = "dialogue"
    author: str | None = Field(default=None, max_length=200, examples=["ana"])
    extracted: Any = Field(default=None, examples=[{"decisions": ["ship on Monday"]}])
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")


class LanguageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str | None = Field(
        examples=["german"],
        description="A text-search configuration of the server (null: the tenant's).",
    )


class Language(BaseModel):
    language: str = Field(description="The session's own, else the tenant's.")
    pending: int = Field(description="Segments still indexed in another language.")
    batches: int = Field(description="The tenant's re-index tasks waiting or running.")


class PurgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    older_than_days: float = Field(ge=0, examples=[90])
    batch: int = Field(default=500, ge=1, le=10_000)


@router.post("/sessions", status_code=201, response_model=Session, summary="Start a session")
async def create_session(body: SessionIn, tenant: WriterTenant) -> object:
    return await tenant.sessions.create(**body.model_dump())


@router.get("/sessions", response_model=Page[Session], summary="Sessions, latest activity first")
async def list_sessions(
    tenant: ReaderTenant,
    status: Status | None = None,
    participant: str | None = None,
    active_since: dt.datetime | None = None,
    active_until: dt.datetime | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await tenant.sessions.list(
        status=status,
        participant=participant,
        active_since=active_since,
        active_until=active_until,
        before=pagination.position(cursor),
        limit=limit,
    )
    return pagination.positioned(items, limit, "last_activity")


@router.get(
    "/sessions/search",
    response_model=list[ChunkHit],
    summary="Full-text search over conversation chunks",
    description='Web search syntax (words, "a phrase", -not, or). One hit per chunk, at '
    "its best segment, with a snippet whose matches are wrapped in <mark>...</mark>.",
)
async def search_chunks(
    tenant: ReaderTenant,
    q: str,
    session_id: UUID | None = None,
    format: Format | None = None,
    limit: int = 20,
) -> object:
    return await tenant.sessions.search(q, session_id=session_id, format=format, limit=limit)


@router.post(
    "/sessions/purge",
    response_model=Purged,
    summary="Retention: delete completed and archived sessions idle for N days",
)
async def purge_sessions(body: PurgeIn, tenant: AdminTenant) -> object:
    deleted = await tenant.sessions.purge(body.older_than_days, batch=body.batch)
    return {"deleted": deleted}


@router.get("/sessions/{session_id}", response_model=Session, summary="One session")
async def get_session(session_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.sessions.get(session_id)


@router.patch(
    "/sessions/{session_id}",
    response_model=Session,
    summary="Change title, participants, summary or metadata (absent fields are kept)",
)
async def update_session(session_id: UUID, body: SessionPatch, tenant: WriterTenant) -> object:
    return await tenant.sessions.update(session_id, **body.model_dump())


@router.get(
    "/sessions/{session_id}/language",
    response_model=Language,
    summary="The session's text-search language, and what its re-index has left",
)
async def session_language(session_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.sessions.language_status(session_id)


@router.put(
    "/sessions/{session_id}/language",
    response_model=Language,
    summary="Choose the session's text-search configuration (its re-index runs in the background)",
)
async def set_session_language(session_id: UUID, body: LanguageIn, tenant: WriterTenant) -> object:
    sessions = tenant.sessions
    await sessions.set_language(session_id, body.language)
    return await sessions.language_status(session_id)


@router.get(
    "/sessions/{session_id}/summary",
    response_model=SessionSummary,
    summary="A session with its latest chunks, artifacts and memories",
)
async def session_summary(
    session_id: UUID,
    tenant: ReaderTenant,
    chunks: int = 5,
    memories: Annotated[int, Query(ge=0, le=1000)] = 5,
) -> object:
    return await tenant.sessions.get_summary(session_id, chunks=chunks, memories=memories)


@router.post(
    "/sessions/{session_id}/transition",
    response_model=Session,
    summary="Pause, resume, complete or archive (an illegal move is 409)",
)
async def transition_session(session_id: UUID, body: TransitionIn, tenant: WriterTenant) -> object:
    return await tenant.sessions.transition(session_id, body.action, by=body.by)


@router.delete(
    "/sessions/{session_id}", status_code=204, summary="Delete a session and all it holds"
)
async def delete_session(
    session_id: UUID,
    tenant: WriterTenant,
    memories: Annotated[
        bool, Query(description="Delete its memories too (else they stay, in no session).")
    ] = False,
) -> None:
    if not await tenant.sessions.delete(session_id, memories=memories):
        raise NotFound(f"session {session_id} does not exist", field="session_id")


@router.post(
    "/sessions/{session_id}/chunks",
    status_code=201,
    response_model=ChunkInfo,
    summary="Append a conversation chunk (the session's next seq)",
)
async def add_chunk(session_id: UUID, body: ChunkIn, tenant: WriterTenant) -> object:
    return await tenant.sessions.add_chunk(session_id, **body.model_dump())


@router.get(
    "/sessions/{session_id}/chunks",
    response_model=Page[ChunkInfo],
    summary="A session's chunks in seq order (without content)",
)
async def list_chunks(
    session_id: UUID,
    tenant: ReaderTenant,
    format: Format | None = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> object:
    after = pagination.cursor_int(cursor, "after") or 0
    items = await tenant.sessions.list_chunks(session_id, format=format, after=after, limit=limit)
    return pagination.page(items, limit, lambda last: {"after": last.seq})


@router.get(
    "/sessions/{session_id}/chunks/{chunk_id}",
    response_model=Chunk,
    summary="One chunk with its content (see /content to stream a large one)",
)
async def get_chunk(session_id: UUID, chunk_id: UUID, tenant: ReaderTenant) -> object:
    chunk = await tenant.sessions.get_chunk(chunk_id)
    if chunk.session_id != session_id:
        raise NotFound(f"chunk {chunk_id} does not exist", field="chunk_id")
    return chunk


@router.get(
    "/sessions/{session_id}/chunks/{chunk_id}/content",
    response_class=StreamingResponse,
    summary="A chunk's content as text, streamed segment by segment",
)
async def chunk_content(
    session_id: UUID, chunk_id: UUID, tenant: ReaderTenant
) -> StreamingResponse:
    sessions = tenant.sessions
    chunk = await sessions.chunk_info(chunk_id)
    if chunk.session_id != session_id:
        raise NotFound(f"chunk {chunk_id} does not exist", field="chunk_id")

    async def read(start: int) -> list[str]:
        return await sessions.chunk_segments(chunk_id, start=start, limit=STREAM_BATCH)

    return text_stream(read, chunk.segment_count)


# Segments per read while streaming content (about 2 MB).
STREAM_BATCH = 64


class StreamCutShort(RuntimeError):
    """Content changed or went away while it was being streamed (its session deleted)."""


def text_stream(read: Callable[[int], Awaitable[list[str]]], count: int) -> StreamingResponse:
    """A text/plain response of ``count`` segments, fetched ``STREAM_BATCH`` at a time.

    Each batch is its own read, so the content can go away mid-stream (its session
    deleted). A batch short of what the description promised raises inside the body: the
    server then breaks off the chunked transfer, and the client sees an incomplete body,
    never a short one that reads as complete."""

    async def body() -> AsyncIterator[bytes]:
        start = 0
        while start < count:
            parts = await read(start)
            if len(parts) < min(STREAM_BATCH, count - start):
                raise StreamCutShort(
                    f"content went away while streamed: {start + len(parts)} of {count} segments"
                )
            for part in parts:
                yield part.encode()
            start += len(parts)

    return StreamingResponse(body(), media_type="text/plain; charset=utf-8")
