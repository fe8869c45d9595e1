"""The append-only event log over HTTP, and a server-sent-events feed that resumes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import Reader, ReaderTenant, WriterTenant, scope, still_allowed
from agentledger.api.pagination import (
    MAX_POSITION,
    Limit,
    cursor_int,
    encode_cursor,
    event_position,
)
from agentledger.api.schemas import AT_HELP, SPOOLED, STREAM_RESPONSES, Page
from agentledger.api.streams import event_stream
from agentledger.errors import InvalidInput, NotFound
from agentledger.events import Appended, Event, NewEvent

router = APIRouter(prefix="/v1", tags=["events"])


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream: str = Field(min_length=1, examples=["case:EX-2025-1234"])
    type: str = Field(min_length=1, examples=["ExceptionRaised"])
    payload: dict[str, Any] = Field(default_factory=dict, examples=[{"amount": 1200}])
    metadata: dict[str, Any] = Field(default_factory=dict)
    actor_type: Literal["agent", "user", "system"] = "system"
    actor_id: str | None = Field(default=None, examples=["triage-agent"])
    event_id: UUID | None = Field(
        default=None,
        description="Idempotency key: appending the "
        "same id again stores nothing and says already_appended.",
    )
    expected_version: int | None = Field(
        default=None, ge=0, description="Optimistic concurrency: 409 when the stream is elsewhere."
    )
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=5000)


@router.post(
    "/events",
    status_code=201,
    response_model=Appended,
    summary="Append one event (idempotent by event_id)",
    responses=SPOOLED,
)
async def append(body: EventIn, tenant: WriterTenant) -> object:
    return await tenant.events.append(**body.model_dump())


@router.post(
    "/events/batch",
    status_code=201,
    response_model=list[Appended],
    summary="Append many events atomically, in one round trip",
)
async def append_many(body: BatchIn, tenant: WriterTenant) -> object:
    expected: dict[str, int] = {}
    for e in body.events:
        if e.expected_version is None:
            continue
        if expected.setdefault(e.stream, e.expected_version) != e.expected_version:
            raise InvalidInput(
                f"two expected versions for stream {e.stream!r}", field="expected_version"
            )
    events = [NewEvent(**e.model_dump(exclude={"expected_version"})) for e in body.events]
    return await tenant.events.append_many(events, expected_versions=expected or None)


@router.get(
    "/events",
    response_model=Page[Event],
    summary="The tenant's log in commit-safe order (for readers that never miss one)",
)
async def read_all(
    tenant: ReaderTenant,
    cursor: str | None = None,
    types: Annotated[list[str] | None, Query()] = None,
    limit: Limit = 100,
) -> object:
    after = cursor_int(cursor, "after") or 0
    try:
        items = await tenant.events.read_all(after, types=types, limit=limit)
    except NotFound:  # only a position from a cursor can be missing: not one this gave out
        raise InvalidInput(
            f"cursor names position {after}, which is not an event of this tenant",
            field="cursor",
        ) from None
    last = items[-1].position if items else after
    return {"items": items, "next_cursor": encode_cursor({"after": last})}


@router.get("/events/recent", response_model=list[Event], summary="The latest events")
async def recent(
    tenant: ReaderTenant,
    types: Annotated[list[str] | None, Query()] = None,
    limit: Limit = 50,
) -> object:
    return await tenant.events.recent(types=types, limit=limit)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
    summary="Server-sent events: every event, resuming after Last-Event-ID",
)
async def stream(
    request: Request,
    who: Reader,
    types: Annotated[list[str] | None, Query()] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
) -> StreamingResponse:
    tenant = scope(request, who)
    resume = event_position(request.headers.get("last-event-id"))
    start = resume if resume is not None else (after or 0)
    # The first page is read before answering, so that what the stream cannot serve (a
    # position not in the log, a tenant that may not read) is the answer's status.
    first = await tenant.events.read_all(start, types=types)
    follower = tenant.follow(
        after=first[-1].position if first else start,
        types=types,
        poll_interval=request.app.state.sse_poll,
    )

    def sse(event: Event) -> str:
        data = json.dumps(dataclasses.asdict(event), default=str)
        # A type stored before names were checked may hold a line break: such an event goes
        # out as a plain "message" (its type is in the data), never as lines of its own.
        kind = "message" if any(c in event.type for c in "\r\n") else event.type
        return f"id: {event.position}\nevent: {kind}\ndata: {data}\n\n"

    async def gen() -> AsyncIterator[str]:
        async with follower:
            yield ": following the event log\n\n"
            for event in first:
                yield sse(event)
            while not await request.is_disconnected():
                for event in await follower.next_batch(timeout=5.0):
                    yield sse(event)
                yield ": keep-alive\n\n"

    return event_stream(
        request.app.state.streams, who.key_id, gen(), allowed=still_allowed(request, who)
    )


@router.get("/events/{event_id}", response_model=Event, summary="One event by id")
async def get_event(event_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.events.get(event_id)


@router.get(
    "/streams/{stream:path}/events",
    response_model=list[Event],
    summary="A stream's events by version",
)
async def read_stream(
    stream: str,
    tenant: ReaderTenant,
    from_version: int | None = None,
    backwards: bool = False,
    limit: Limit = 100,
) -> object:
    return await tenant.events.read_stream(
        stream, from_version=from_version, backwards=backwards, limit=limit
    )


@router.get("/streams/{stream:path}/version", summary="A stream's current version (0: empty)")
async def stream_version(stream: str, tenant: ReaderTenant) -> dict[str, int]:
    return {"version": await tenant.events.stream_version(stream)}
