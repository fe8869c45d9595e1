"""The seed's HTTP routes (``/api/exceptions``, ``/api/playbooks``, ``/api/tools``, the
supervisor's counts), mounted on agentledger's app.

Every route needs an API key (reader to read, writer to write): the key decides the
tenant, and a path tenant that is not the key's answers 404, as an unknown one does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from agentledger import AsyncLedger, CaseAggregates, NotFound, Settings
from agentledger.api import create_app
from agentledger.api.auth import Reader, Writer
from agentledger.web.auth import Principal, ledger_of
from examples.sentinai_phase6.catalog import PlaybookRepository, ToolDefinitionRepository
from examples.sentinai_phase6.events import EventEnvelope
from examples.sentinai_phase6.exceptions import ExceptionEventRepository, ExceptionRepository
from examples.sentinai_phase6.models import (
    ExceptionEvent,
    ExceptionPage,
    ExceptionRecord,
    Playbook,
    ToolDefinition,
)
from examples.sentinai_phase6.session import unit_of_work

router = APIRouter(prefix="/api", tags=["sentinai"])
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["open", "analyzing", "resolved", "escalated"]
INGESTED = uuid.UUID("6d1f7c1e-5a8e-4d2b-9d0c-2f4e8b7a6c01")  # ExceptionCreated event ids


def mine(tenant_id: str, who: Principal) -> str:
    """The path's tenant if it is the key's; any other answers 404, like an unknown one."""
    if tenant_id != who.tenant_id:
        raise NotFound(f"tenant {tenant_id!r} not found", field="tenant_id")
    return tenant_id


class ExceptionIn(BaseModel):
    """An exception to create or update (the seed's columns; absent ones are kept)."""

    model_config = ConfigDict(extra="forbid")
    exception_id: str = Field(min_length=1, max_length=200, examples=["EX-2025-0001"])
    domain: str | None = Field(default=None, examples=["Finance"])
    type: str | None = Field(default=None, examples=["SettlementFail"])
    severity: Severity | None = None
    status: Status | None = None
    source_system: str | None = Field(default=None, examples=["Murex"])
    entity: str | None = Field(default=None, examples=["counterparty:ACME"])
    amount: Decimal | None = None
    sla_deadline: dt.datetime | None = None
    owner: str | None = None
    current_playbook_id: str | None = None
    current_step: int | None = Field(default=None, ge=0)
    title: str | None = Field(default=None, max_length=500)
    description: str | None = None
    created_at: dt.datetime | None = None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_type: str = Field(examples=["TriageCompleted"])
    actor_type: Literal["agent", "user", "system"] = "system"
    actor_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    event_id: uuid.UUID | None = None
    created_at: dt.datetime | None = None


class ExceptionDetail(BaseModel):
    """The exception and one page of its timeline: ``next_after`` is the last event's
    ``sequence`` when the page is full (pass it as ``after`` for more), else None."""

    exception: ExceptionRecord
    events: list[ExceptionEvent]
    next_after: int | None = None


EVENTS_PAGE = 1000  # a timeline page's default size
MAX_EVENTS_PAGE = 10_000  # its largest (agentledger's timeline cap)
After = Annotated[int, Query(ge=0, description="the sequence to read after (0: from the start)")]
Limit = Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE, description="the most events to return")]


def _next_after(events: list[ExceptionEvent], limit: int) -> int | None:
    return events[-1].sequence if len(events) == limit else None


class Appended(BaseModel):
    event_id: str
    appended: bool


class PlaybookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    playbook_id: str = Field(min_length=1, max_length=200, examples=["settlement-fail"])
    name: str | None = None
    conditions: dict[str, Any] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    expected_version: int | None = Field(default=None, ge=0)


class ToolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(examples=["webhook"])
    config: dict[str, Any] = Field(default_factory=dict)


class Supervisor(BaseModel):
    counts: CaseAggregates
    sla_breaches: list[ExceptionRecord]


@router.post("/exceptions/{tenant_id}", response_model=ExceptionRecord)
async def ingest_exception(
    tenant_id: str, body: ExceptionIn, request: Request, who: Writer
) -> ExceptionRecord:
    """Upsert the exception and log its ExceptionCreated event once, in one transaction."""
    ledger = ledger_of(request)
    async with unit_of_work(ledger, mine(tenant_id, who)) as tx:
        stored = await ExceptionRepository(tx).upsert_exception(
            tenant_id, body.model_dump(exclude_none=True), actor_id=who.key_id
        )
        created = EventEnvelope(
            tenant_id=tenant_id,
            exception_id=stored.exception_id,
            event_type="ExceptionCreated",
            actor_type="system",
            actor_id="ingestion-api",
            payload={"source_system": stored.source_system},
            event_id=str(uuid.uuid5(INGESTED, f"{tenant_id}/{stored.exception_id}")),
        )
        await ExceptionEventRepository(tx).append_event_if_new(created)
    return stored


@router.get("/exceptions/{tenant_id}", response_model=ExceptionPage)
async def list_exceptions(
    tenant_id: str,
    request: Request,
    who: Reader,
    domain: str | None = None,
    status: Annotated[list[Status] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    created_from: dt.datetime | None = None,
    created_to: dt.datetime | None = None,
    cursor: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ExceptionPage:
    """One page, newest first; pass ``next_cursor`` back as ``cursor``."""
    return await ExceptionRepository(ledger_of(request)).list_exceptions(
        mine(tenant_id, who),
        domain=domain,
        status=status,
        severity=severity,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        page_size=page_size,
    )


@router.get("/exceptions/{exception_id}/events", response_model=list[ExceptionEvent])
async def exception_events(
    exception_id: str,
    request: Request,
    response: Response,
    who: Reader,
    after: After = 0,
    limit: Limit = EVENTS_PAGE,
) -> object:
    """One page of the exception's event log in order (the key's tenant): at most
    ``limit`` events after the sequence ``after``. A full page sets the ``Next-After``
    header to its last sequence; pass it as ``after`` for the rest."""
    events = await ExceptionEventRepository(ledger_of(request)).get_events_for_exception(
        who.tenant_id, exception_id, after=after, limit=limit
    )
    following = _next_after(events, limit)
    if following is not None:
        response.headers["Next-After"] = str(following)
    return events


@router.get("/exceptions/{tenant_id}/{exception_id}", response_model=ExceptionDetail)
async def get_exception(
    tenant_id: str,
    exception_id: str,
    request: Request,
    who: Reader,
    after: After = 0,
    limit: Limit = EVENTS_PAGE,
) -> ExceptionDetail:
    """The exception with one page of its timeline (``after``, ``limit`` as for the
    events route); ``next_after`` leads to the next page."""
    ledger = ledger_of(request)
    found = await ExceptionRepository(ledger).get_exception(mine(tenant_id, who), exception_id)
    if found is None:
        raise NotFound(f"exception {exception_id!r} not found", field="exception_id")
    events = await ExceptionEventRepository(ledger).get_events_for_exception(
        tenant_id, exception_id, after=after, limit=limit
    )
    return ExceptionDetail(exception=found, events=events, next_after=_next_after(events, limit))


@router.post("/exceptions/{tenant_id}/{exception_id}/events", response_model=Appended)
async def append_event(
    tenant_id: str, exception_id: str, body: EventIn, request: Request, who: Writer
) -> Response | Appended:
    """Append an event of the seed's types: 201 appended, 200 when its id was already."""
    envelope = EventEnvelope(
        tenant_id=mine(tenant_id, who),
        exception_id=exception_id,
        event_type=body.event_type,
        actor_type=body.actor_type,
        actor_id=body.actor_id,
        payload=body.payload,
        event_id=str(body.event_id or uuid.uuid4()),
        created_at=body.created_at,
    )
    appended = await ExceptionEventRepository(ledger_of(request)).append_event_if_new(envelope)
    out = Appended(event_id=envelope.event_id, appended=appended)
    return Response(out.model_dump_json(), 201 if appended else 200, media_type="application/json")


@router.get("/playbooks/{tenant_id}", response_model=list[Playbook])
async def list_playbooks(tenant_id: str, request: Request, who: Reader) -> object:
    return await PlaybookRepository(ledger_of(request)).list_playbooks(mine(tenant_id, who))


@router.get("/playbooks/{tenant_id}/{playbook_id}", response_model=Playbook)
async def get_playbook(
    tenant_id: str,
    playbook_id: str,
    request: Request,
    who: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> object:
    """The playbook with its ordered steps, at its latest version or at ``version``."""
    playbooks = PlaybookRepository(ledger_of(request))
    if version is None:
        return await playbooks.get_latest(mine(tenant_id, who), playbook_id)
    return await playbooks.get_version(mine(tenant_id, who), playbook_id, version)


@router.post("/playbooks/{tenant_id}", response_model=Playbook)
async def create_playbook_version(
    tenant_id: str, body: PlaybookIn, request: Request, who: Writer
) -> object:
    """The playbook's next version (the same content again adds none)."""
    return await PlaybookRepository(ledger_of(request)).create_version(
        mine(tenant_id, who),
        body.playbook_id,
        name=body.name,
        conditions=body.conditions,
        steps=body.steps,
        expected_version=body.expected_version,
    )


@router.get("/tools/{tenant_id}", response_model=list[ToolDefinition])
async def list_tools(tenant_id: str, request: Request, who: Reader) -> object:
    """The global tools and the tenant's own."""
    return await ToolDefinitionRepository(ledger_of(request)).list_tools(mine(tenant_id, who))


@router.get("/tools/{tenant_id}/{tool_id}", response_model=ToolDefinition)
async def get_tool(tenant_id: str, tool_id: str, request: Request, who: Reader) -> object:
    found = await ToolDefinitionRepository(ledger_of(request)).get_tool(
        mine(tenant_id, who), tool_id
    )
    if found is None:
        raise NotFound(f"tool {tool_id!r} not found", field="tool_id")
    return found


@router.post("/tools/{tenant_id}", response_model=ToolDefinition)
async def create_tool(tenant_id: str, body: ToolIn, request: Request, who: Writer) -> object:
    """Define a tool of the tenant's own (or its next version)."""
    return await ToolDefinitionRepository(ledger_of(request)).create_tool(
        body.name, body.type, body.config, tenant_id=mine(tenant_id, who)
    )


@router.get("/supervisor/{tenant_id}", response_model=Supervisor)
async def supervisor(
    tenant_id: str, request: Request, who: Reader, now: dt.datetime | None = None
) -> Supervisor:
    """The supervisor view's data: counts by status, severity and domain; every SLA
    breach at ``now`` (default: the time of the request), most overdue first, so that
    ``len(sla_breaches) == counts.sla_breached``."""
    exceptions = ExceptionRepository(ledger_of(request))
    at = now if now is not None else dt.datetime.now(dt.UTC)
    counts = await exceptions.aggregates(mine(tenant_id, who), now=at)
    breaches = await exceptions.find_sla_breaches(tenant_id, at, limit=None)
    return Supervisor(counts=counts, sla_breaches=breaches)


def create_phase6_app(
    settings: Settings | None = None, *, ledger: AsyncLedger | None = None
) -> FastAPI:
    """agentledger's app (``/v1``, ``/healthz``, ``/readyz``, the console) with the seed's
    routes mounted under ``/api``."""
    app = create_app(settings, ledger=ledger)
    app.include_router(router)
    return app
