"""Console pages for collaborative sessions: the list (with chunk search) and one session."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agentledger.console.routes import (
    Editor,
    Viewer,
    _acted,
    _by,
    _fragment,
    _listed,
    _missing_page,
    _page,
)
from agentledger.errors import NotFound
from agentledger.sessions import SESSION_LIFECYCLE, ChunkHit
from agentledger.web.auth import scope as tenant_of

router = APIRouter(prefix="/console", include_in_schema=False)
STATUSES = SESSION_LIFECYCLE.states
# How much of each chunk and artifact the session page shows.
PREVIEW_CHARS = 1500


@router.get("/sessions", name="console-sessions")
async def sessions(request: Request, who: Viewer, status: str = "", q: str = "") -> HTMLResponse:
    scope = tenant_of(request, who)
    hits: list[ChunkHit] = []
    error = None
    if q.strip():
        hits, error = await _listed(scope.sessions.search(q, limit=50))
    rows = await scope.sessions.list(status=status if status in STATUSES else None, limit=200)
    return _page(
        request,
        "sessions.html",
        who,
        "console-sessions",
        title="Sessions",
        sessions=rows,
        statuses=STATUSES,
        status=status,
        q=q,
        hits=hits,
        error=error,
    )


@router.get("/sessions/{session_id}", name="console-session")
async def session(request: Request, session_id: UUID, who: Viewer) -> HTMLResponse:
    scope = tenant_of(request, who)
    try:
        summary = await scope.sessions.get_summary(session_id, chunks=20, memories=20)
    except NotFound:
        return _missing_page(request, who, "console-sessions", "session")
    previews = {}
    for chunk in summary.recent_chunks:
        first = await scope.sessions.chunk_segments(chunk.id, limit=1)
        previews[chunk.id] = first[0][:PREVIEW_CHARS] if first else ""
    for artifact in summary.artifacts:
        first = await scope.sessions.artifact_segments(artifact.id, limit=1)
        previews[artifact.id] = first[0][:PREVIEW_CHARS] if first else ""
    return _page(
        request,
        "session.html",
        who,
        "console-sessions",
        title=summary.session.title,
        s=summary.session,
        chunks=summary.recent_chunks,
        artifacts=summary.artifacts,
        memories=summary.memories,
        previews=previews,
        preview_chars=PREVIEW_CHARS,
        moves=SESSION_LIFECYCLE.table[summary.session.status],
        error=None,
    )


@router.post("/sessions/{session_id}/{action}", name="console-session-action")
async def session_action(
    request: Request,
    session_id: UUID,
    action: Literal["pause", "resume", "complete", "archive"],
    who: Editor,
) -> HTMLResponse:
    scope = tenant_of(request, who)
    change = scope.sessions.transition(session_id, action, by=_by(who))
    moved, error = await _acted(change, lambda: scope.sessions.get(session_id))
    return _fragment(
        request,
        "_session_status.html",
        who,
        s=moved,
        moves=SESSION_LIFECYCLE.table[moved.status],
        error=error,
    )
