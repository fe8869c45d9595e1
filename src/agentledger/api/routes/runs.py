"""Runs (the trigger log) and their statistics over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api import pagination
from agentledger.api.auth import ReaderTenant, WriterTenant
from agentledger.api.pagination import Limit
from agentledger.api.schemas import AT_HELP, SPOOLED, Page
from agentledger.runs import Run, RunStat

router = APIRouter(prefix="/v1", tags=["runs"])


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger_type: str = Field(min_length=1, max_length=200, examples=["email"])
    source_id: str | None = Field(default=None, examples=["msg-8812"])
    content: str | None = Field(default=None, description="Truncated, with a marker, if long.")
    priority: str | None = Field(default=None, examples=["high"])
    entity_ref: str | None = Field(default=None, examples=["contact:john-smith"])
    metadata: dict[str, Any] = Field(default_factory=dict)
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class RunFinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error: str | None = Field(default=None, description="Set for a failed run.")
    response_id: str | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


@router.post("/runs", status_code=201, response_model=Run, summary="Start a run", responses=SPOOLED)
async def start_run(body: RunIn, tenant: WriterTenant) -> object:
    return await tenant.runs.start(**body.model_dump())


@router.post(
    "/runs/{run_id}/finish",
    response_model=Run,
    summary="Finish a run (succeeded, or failed with an error)",
    responses=SPOOLED,
)
async def finish_run(run_id: UUID, body: RunFinishIn, tenant: WriterTenant) -> object:
    return await tenant.runs.finish(run_id, **body.model_dump())


@router.get("/runs", response_model=Page[Run], summary="Runs, newest first")
async def list_runs(
    tenant: ReaderTenant,
    status: Literal["started", "succeeded", "failed"] | None = None,
    trigger_type: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await tenant.runs.list(
        status=status, trigger_type=trigger_type, before=pagination.position(cursor), limit=limit
    )
    return pagination.positioned(items, limit, "started_at")


@router.get(
    "/runs/stats",
    response_model=list[RunStat],
    summary="Per trigger type and day: count, p50/p95 duration, tokens",
)
async def run_stats(
    tenant: ReaderTenant,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    trigger_type: str | None = None,
) -> object:
    return await tenant.runs.stats(since=since, until=until, trigger_type=trigger_type)


@router.get("/runs/{run_id}", response_model=Run)
async def get_run(run_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.runs.get(run_id)
