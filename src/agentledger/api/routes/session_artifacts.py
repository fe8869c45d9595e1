"""A session's versioned artifacts over HTTP: save, read (content streamed), search.

Artifact names travel in the path, so a name holding ``/`` cannot be addressed here; the
library takes any name.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import ReaderTenant, WriterTenant
from agentledger.api.routes.sessions import STREAM_BATCH, text_stream
from agentledger.sessions import ArtifactHit, ArtifactInfo

router = APIRouter(prefix="/v1", tags=["sessions"])
ArtifactType = Literal["code", "document", "research", "prd", "report"]


class ArtifactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300, examples=["prd.md"])
    content: str = Field(min_length=1, examples=["# Launch PRD\n..."])
    artifact_type: ArtifactType = Field(examples=["prd"])
    format: str = Field(default="text", min_length=1, max_length=50, examples=["markdown"])
    metadata: dict[str, Any] = Field(default_factory=dict)
    author: str | None = Field(default=None, max_length=200, examples=["codex"])
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")


@router.get(
    "/sessions/artifacts/search",
    response_model=list[ArtifactHit],
    summary="Full-text search over artifacts",
    description="Web search syntax; each name's latest version unless all_versions. "
    "Snippets wrap matches in <mark>...</mark>.",
)
async def search_artifacts(
    tenant: ReaderTenant,
    q: str,
    session_id: UUID | None = None,
    artifact_type: ArtifactType | None = None,
    all_versions: bool = False,
    limit: int = 20,
) -> object:
    return await tenant.sessions.search_artifacts(
        q,
        session_id=session_id,
        artifact_type=artifact_type,
        all_versions=all_versions,
        limit=limit,
    )


@router.post(
    "/sessions/{session_id}/artifacts",
    status_code=201,
    response_model=ArtifactInfo,
    summary="Save the next version of a named artifact",
)
async def save_artifact(session_id: UUID, body: ArtifactIn, tenant: WriterTenant) -> object:
    return await tenant.sessions.save_artifact(session_id, **body.model_dump())


@router.get(
    "/sessions/{session_id}/artifacts",
    response_model=list[ArtifactInfo],
    summary="The latest version of each artifact, by name",
)
async def list_artifacts(session_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.sessions.list_artifacts(session_id)


@router.get(
    "/sessions/{session_id}/artifacts/{name}",
    response_model=ArtifactInfo,
    summary="An artifact's latest version (or ?version=), without content",
)
async def get_artifact(
    session_id: UUID, name: str, tenant: ReaderTenant, version: int | None = None
) -> object:
    return await tenant.sessions.find_artifact(session_id, name, version=version)


@router.get(
    "/sessions/{session_id}/artifacts/{name}/versions",
    response_model=list[ArtifactInfo],
    summary="Every version of an artifact, newest first",
)
async def artifact_versions(session_id: UUID, name: str, tenant: ReaderTenant) -> object:
    return await tenant.sessions.artifact_versions(session_id, name)


@router.get(
    "/sessions/{session_id}/artifacts/{name}/content",
    response_class=StreamingResponse,
    summary="An artifact version's content, streamed segment by segment",
)
async def artifact_content(
    session_id: UUID, name: str, tenant: ReaderTenant, version: int | None = None
) -> StreamingResponse:
    sessions = tenant.sessions
    info = await sessions.find_artifact(session_id, name, version=version)

    async def read(start: int) -> list[str]:
        return await sessions.artifact_segments(info.id, start=start, limit=STREAM_BATCH)

    return text_stream(read, info.segment_count)
