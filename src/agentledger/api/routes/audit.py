"""Decisions with feedback, runs (the trigger log) and tiered alerts over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentledger.alerts import Alert
from agentledger.api.auth import Reader, Writer, scope
from agentledger.api.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from agentledger.api.schemas import Page
from agentledger.decisions import AcceptanceStat, Decision
from agentledger.errors import LedgerError
from agentledger.runs import Run, RunStat

router = APIRouter(prefix="/v1")
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _page(items: list[Any], limit: int) -> dict[str, Any]:
    """Newest-first lists page by the last item's id (``before``)."""
    nxt = encode_cursor({"before": str(items[-1].id)}) if len(items) == limit else None
    return {"items": items, "next_cursor": nxt}


def _before(cursor: str | None) -> str | None:
    value = decode_cursor(cursor).get("before")
    return None if value is None else str(value)


# -- decisions ---------------------------------------------------------------------------
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


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accepted: bool
    reason: str | None = Field(default=None, examples=["Right call"])
    by: str | None = Field(default=None, max_length=200, examples=["ceo"])


@router.post(
    "/decisions",
    status_code=201,
    response_model=Decision,
    tags=["decisions"],
    summary="Record a decision (never deleted)",
)
async def record_decision(body: DecisionIn, request: Request, who: Writer) -> object:
    return await scope(request, who).decisions.record(
        body.decision,
        decision_type=body.decision_type,
        reasoning=body.reasoning,
        confidence=body.confidence,
        data=body.data,
        agent=body.agent,
        run_id=body.run_id,
        id=body.id,
    )


@router.get(
    "/decisions",
    response_model=Page[Decision],
    tags=["decisions"],
    summary="Decisions, newest first",
)
async def list_decisions(
    request: Request,
    who: Reader,
    decision_type: str | None = None,
    agent: str | None = None,
    awaiting_feedback: bool = False,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await scope(request, who).decisions.list(
        decision_type=decision_type,
        agent=agent,
        awaiting_feedback=awaiting_feedback,
        before=_before(cursor),
        limit=limit,
    )
    return _page(items, limit)


@router.get(
    "/decisions/stats",
    response_model=list[AcceptanceStat],
    tags=["decisions"],
    summary="Acceptance statistics for the learning loop",
)
async def decision_stats(
    request: Request,
    who: Reader,
    by: Annotated[list[Literal["decision_type", "agent"]], Query()] = ["decision_type"],  # noqa: B006
    period: Literal["day", "week", "month"] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> object:
    return await scope(request, who).decisions.acceptance_stats(
        by=tuple(by), period=period, since=since, until=until
    )


@router.get("/decisions/{decision_id}", response_model=Decision, tags=["decisions"])
async def get_decision(decision_id: UUID, request: Request, who: Reader) -> object:
    return await scope(request, who).decisions.get(decision_id)


@router.post(
    "/decisions/{decision_id}/feedback",
    response_model=Decision,
    tags=["decisions"],
    summary="Record feedback once (the same again is a no-op; different is 409)",
)
async def decision_feedback(
    decision_id: UUID, body: FeedbackIn, request: Request, who: Writer
) -> object:
    return await scope(request, who).decisions.record_feedback(
        decision_id, body.accepted, reason=body.reason, by=body.by
    )


# -- runs --------------------------------------------------------------------------------
class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger_type: str = Field(min_length=1, max_length=200, examples=["email"])
    source_id: str | None = Field(default=None, examples=["msg-8812"])
    content: str | None = Field(default=None, description="Truncated, with a marker, if long.")
    priority: str | None = Field(default=None, examples=["high"])
    entity_ref: str | None = Field(default=None, examples=["contact:john-smith"])
    metadata: dict[str, Any] = Field(default_factory=dict)
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")


class RunFinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error: str | None = Field(default=None, description="Set for a failed run.")
    response_id: str | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)


@router.post("/runs", status_code=201, response_model=Run, tags=["runs"], summary="Start a run")
async def start_run(body: RunIn, request: Request, who: Writer) -> object:
    return await scope(request, who).runs.start(
        body.trigger_type,
        source_id=body.source_id,
        content=body.content,
        priority=body.priority,
        entity_ref=body.entity_ref,
        metadata=body.metadata,
        id=body.id,
    )


@router.post(
    "/runs/{run_id}/finish",
    response_model=Run,
    tags=["runs"],
    summary="Finish a run (succeeded, or failed with an error)",
)
async def finish_run(run_id: UUID, body: RunFinishIn, request: Request, who: Writer) -> object:
    return await scope(request, who).runs.finish(
        run_id,
        error=body.error,
        response_id=body.response_id,
        duration_ms=body.duration_ms,
        tokens_in=body.tokens_in,
        tokens_out=body.tokens_out,
    )


@router.get("/runs", response_model=Page[Run], tags=["runs"], summary="Runs, newest first")
async def list_runs(
    request: Request,
    who: Reader,
    status: Literal["started", "succeeded", "failed"] | None = None,
    trigger_type: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await scope(request, who).runs.list(
        status=status, trigger_type=trigger_type, before=_before(cursor), limit=limit
    )
    return _page(items, limit)


@router.get(
    "/runs/stats",
    response_model=list[RunStat],
    tags=["runs"],
    summary="Per trigger type and day: count, p50/p95 duration, tokens",
)
async def run_stats(
    request: Request,
    who: Reader,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    trigger_type: str | None = None,
) -> object:
    return await scope(request, who).runs.stats(since=since, until=until, trigger_type=trigger_type)


@router.get("/runs/{run_id}", response_model=Run, tags=["runs"])
async def get_run(run_id: UUID, request: Request, who: Reader) -> object:
    return await scope(request, who).runs.get(run_id)


# -- alerts ------------------------------------------------------------------------------
class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: Literal[1, 2, 3, "urgent", "important", "info"] = Field(examples=[1])
    title: str = Field(min_length=1, examples=["Contract renewal overdue"])
    body: str = Field(default="", examples=["Acme's renewal was due yesterday."])
    action_required: bool = False
    run_id: UUID | None = None
    entity_ref: str | None = None
    case_ref: str | None = None
    dedup_key: str | None = Field(
        default=None,
        description="Repeats of an open alert with "
        "this key bump its counter instead of adding a new one.",
    )


class AlertActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, max_length=200, examples=["ops-oncall"])


@router.post(
    "/alerts",
    status_code=201,
    response_model=Alert,
    tags=["alerts"],
    summary="Raise an alert (deduplicated by dedup_key while open)",
)
async def create_alert(body: AlertIn, request: Request, who: Writer) -> object:
    return await scope(request, who).alerts.create(
        body.tier,
        body.title,
        body=body.body,
        action_required=body.action_required,
        run_id=body.run_id,
        entity_ref=body.entity_ref,
        case_ref=body.case_ref,
        dedup_key=body.dedup_key,
    )


@router.get("/alerts", response_model=Page[Alert], tags=["alerts"], summary="Alerts")
async def list_alerts(
    request: Request,
    who: Reader,
    status: Literal["pending", "acknowledged", "resolved"] | None = None,
    tier: Literal["1", "2", "3", "urgent", "important", "info"] | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await scope(request, who).alerts.list(
        status=status, tier=_tier(tier), before=_before(cursor), limit=limit
    )
    return _page(items, limit)


@router.get(
    "/alerts/pending",
    response_model=list[Alert],
    tags=["alerts"],
    summary="Pending alerts, most urgent first",
)
async def pending_alerts(
    request: Request,
    who: Reader,
    tier: Literal["1", "2", "3", "urgent", "important", "info"] | None = None,
    limit: Limit = 100,
) -> object:
    return await scope(request, who).alerts.pending(_tier(tier), limit=limit)


@router.get(
    "/alerts/stream",
    tags=["alerts"],
    response_class=StreamingResponse,
    summary="Server-sent events: new pending alerts as they are raised",
)
async def alert_stream(
    request: Request, who: Reader, tier: Literal["1", "2", "3"] | None = None
) -> StreamingResponse:
    alerts = scope(request, who).alerts
    current = await alerts.pending(_tier(tier), limit=500)
    seen: set[UUID] = {a.id for a in current}
    resume = request.headers.get("last-event-id")
    if resume:  # a reconnect: deliver what was raised after the last alert it saw
        try:
            last = await alerts.get(resume)
        except LedgerError:
            last = None
        if last is not None:
            seen = {a.id for a in current if a.created_at <= last.created_at}

    async def gen() -> AsyncIterator[str]:
        yield ": following new alerts\n\n"
        while not await request.is_disconnected():
            for alert in reversed(await alerts.pending(_tier(tier), limit=500)):
                if alert.id not in seen:
                    seen.add(alert.id)
                    yield _sse(str(alert.id), "alert", _json(alert))
            await asyncio.sleep(request.app.state.sse_poll)

    return StreamingResponse(gen(), media_type="text/event-stream")


@router.get("/alerts/{alert_id}", response_model=Alert, tags=["alerts"])
async def get_alert(alert_id: UUID, request: Request, who: Reader) -> object:
    return await scope(request, who).alerts.get(alert_id)


@router.post(
    "/alerts/{alert_id}/{action}",
    response_model=Alert,
    tags=["alerts"],
    summary="Acknowledge or resolve (an illegal move is 409)",
)
async def alert_action(
    alert_id: UUID,
    action: Literal["acknowledge", "resolve"],
    request: Request,
    who: Writer,
    body: AlertActionIn | None = None,
) -> object:
    alerts = scope(request, who).alerts
    method = alerts.acknowledge if action == "acknowledge" else alerts.resolve
    return await method(alert_id, by=body.by if body else None)


def _tier(tier: str | None) -> int | str | None:
    """Query strings carry tiers as text: "1" means tier 1."""
    return int(tier) if tier is not None and tier.isdigit() else tier


def _sse(event_id: str, kind: str, data: str) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"


def _json(record: Any) -> str:
    import dataclasses

    return json.dumps(dataclasses.asdict(record), default=str)
