"""Decisions with human feedback and acceptance statistics over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api import pagination
from agentledger.api.auth import ReaderTenant, WriterTenant
from agentledger.api.pagination import Limit
from agentledger.api.schemas import AT_HELP, SPOOLED, Page
from agentledger.decisions import AcceptanceStat, Decision

router = APIRouter(prefix="/v1", tags=["decisions"])


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(min_length=1, examples=["Escalate the renewal to the account owner"])
    decision_type: str = Field(min_length=1, max_length=200, examples=["escalation"])
    reasoning: str = Field(default="", examples=["Deal value above threshold; no reply in 5 days"])
    confidence: float | None = Field(default=None, ge=0, le=1, examples=[0.82])
    data: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = Field(default=None, max_length=200, examples=["sentinel"])
    run_id: UUID | None = None
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accepted: bool
    reason: str | None = Field(default=None, examples=["Right call"])
    by: str | None = Field(default=None, max_length=200, examples=["ceo"])
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


@router.post(
    "/decisions",
    status_code=201,
    response_model=Decision,
    summary="Record a decision (never deleted)",
    responses=SPOOLED,
)
async def record_decision(body: DecisionIn, tenant: WriterTenant) -> object:
    return await tenant.decisions.record(**body.model_dump())


@router.get(
    "/decisions",
    response_model=Page[Decision],
    summary="Decisions, newest first",
)
async def list_decisions(
    tenant: ReaderTenant,
    decision_type: str | None = None,
    agent: str | None = None,
    awaiting_feedback: bool = False,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await tenant.decisions.list(
        decision_type=decision_type,
        agent=agent,
        awaiting_feedback=awaiting_feedback,
        before=pagination.position(cursor),
        limit=limit,
    )
    return pagination.positioned(items, limit, "created_at")


@router.get(
    "/decisions/stats",
    response_model=list[AcceptanceStat],
    summary="Acceptance statistics for the learning loop",
)
async def decision_stats(
    tenant: ReaderTenant,
    by: Annotated[list[Literal["decision_type", "agent"]], Query()] = ["decision_type"],  # noqa: B006
    period: Literal["day", "week", "month"] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> object:
    return await tenant.decisions.acceptance_stats(
        by=tuple(by), period=period, since=since, until=until
    )


@router.get("/decisions/{decision_id}", response_model=Decision)
async def get_decision(decision_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.decisions.get(decision_id)


@router.post(
    "/decisions/{decision_id}/feedback",
    response_model=Decision,
    summary="Record feedback once (the same again is a no-op; different is 409)",
    responses=SPOOLED,
)
async def decision_feedback(decision_id: UUID, body: FeedbackIn, tenant: WriterTenant) -> object:
    return await tenant.decisions.record_feedback(
        decision_id, body.accepted, reason=body.reason, by=body.by, at=body.at
    )
