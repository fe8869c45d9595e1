"""Tiered alerts over HTTP: raise, list, acknowledge, resolve, and a live stream."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentledger.alerts import Alert
from agentledger.alerts.facade_async import AsyncAlerts
from agentledger.alerts.ops import MAX_PAGE
from agentledger.api import pagination
from agentledger.api.auth import Reader, ReaderTenant, WriterTenant, scope, still_allowed
from agentledger.api.pagination import Limit
from agentledger.api.schemas import AT_HELP, SPOOLED, STREAM_RESPONSES, Page
from agentledger.api.streams import event_stream
from agentledger.errors import NotFound

router = APIRouter(prefix="/v1", tags=["alerts"])


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
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class AlertActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, max_length=200, examples=["ops-oncall"])
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


@router.post(
    "/alerts",
    status_code=201,
    response_model=Alert,
    summary="Raise an alert (deduplicated by dedup_key while open)",
    responses=SPOOLED,
)
async def create_alert(body: AlertIn, tenant: WriterTenant) -> object:
    return await tenant.alerts.create(**body.model_dump())


@router.get("/alerts", response_model=Page[Alert], summary="Alerts")
async def list_alerts(
    tenant: ReaderTenant,
    status: Literal["pending", "acknowledged", "resolved"] | None = None,
    tier: Literal["1", "2", "3", "urgent", "important", "info"] | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    items = await tenant.alerts.list(
        status=status, tier=_tier(tier), before=pagination.position(cursor), limit=limit
    )
    return pagination.positioned(items, limit, "created_at")


@router.get(
    "/alerts/pending",
    response_model=list[Alert],
    summary="Pending alerts, most urgent first",
)
async def pending_alerts(
    tenant: ReaderTenant,
    tier: Literal["1", "2", "3", "urgent", "important", "info"] | None = None,
    limit: Limit = 100,
) -> object:
    return await tenant.alerts.pending(_tier(tier), limit=limit)


@router.get(
    "/alerts/stream",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
    summary="Server-sent events: new pending alerts as they are raised",
)
async def alert_stream(
    request: Request, who: Reader, tier: Literal["1", "2", "3"] | None = None
) -> StreamingResponse:
    tenant = scope(request, who)
    alerts = tenant.alerts
    current = await _pending(alerts, _tier(tier))
    seen: set[UUID] = {a.id for a in current}
    resume = pagination.alert_position(request.headers.get("last-event-id"))
    if resume is not None:  # a reconnect: deliver what was raised after the last alert it saw
        try:
            last = await alerts.get(resume)
        except NotFound:  # gone (retention): deliver every pending alert
            last = None
        if last is not None:  # by when they were stored: a back-dated alert is still new
            seen = {a.id for a in current if a.recorded_at <= last.recorded_at}

    async def gen() -> AsyncIterator[str]:
        yield ": following new alerts\n\n"
        # Read when an alert is raised (a shared connection's wake-up), and at least every
        # sse_fallback seconds, for one lost across a reconnect; every sse_poll seconds when
        # no wake-ups come (a transaction-mode pooler with no session connection).
        async with tenant.alert_wakeups() as raised:
            state = request.app.state
            every = state.sse_fallback if raised.listening else state.sse_poll
            while not await request.is_disconnected():
                current = await _pending(alerts, _tier(tier))
                for alert in current:
                    if alert.id not in seen:
                        yield _sse(str(alert.id), "alert", _json(alert))
                seen.clear()  # what has left the pending alerts is forgotten
                seen.update(a.id for a in current)
                if not await raised.wait(every):
                    yield ": keep-alive\n\n"

    return event_stream(
        request.app.state.streams, who.key_id, gen(), allowed=still_allowed(request, who)
    )


async def _pending(alerts: AsyncAlerts, tier: int | str | None) -> list[Alert]:
    """Every pending alert (of ``tier``), in the order they were stored."""
    found: list[Alert] = []
    while True:
        after = found[-1] if found else None
        page = await alerts.raised(tier=tier, after=after, limit=MAX_PAGE)
        found.extend(page)
        if len(page) < MAX_PAGE:
            return found


@router.get("/alerts/{alert_id}", response_model=Alert)
async def get_alert(alert_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.alerts.get(alert_id)


@router.post(
    "/alerts/{alert_id}/{action}",
    response_model=Alert,
    summary="Acknowledge or resolve (an illegal move is 409)",
)
async def alert_action(
    alert_id: UUID,
    action: Literal["acknowledge", "resolve"],
    tenant: WriterTenant,
    body: AlertActionIn | None = None,
) -> object:
    alerts = tenant.alerts
    method = alerts.acknowledge if action == "acknowledge" else alerts.resolve
    return await method(alert_id, by=body.by if body else None, at=body.at if body else None)


def _tier(tier: str | None) -> int | str | None:
    """Query strings carry tiers as text: "1" means tier 1."""
    return int(tier) if tier in ("1", "2", "3") else tier


def _sse(event_id: str, kind: str, data: str) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"


def _json(record: Any) -> str:
    return json.dumps(dataclasses.asdict(record), default=str)
