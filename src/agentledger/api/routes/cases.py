"""Cases over HTTP: kinds and their lifecycles, cases with filters and keyset pages,
upsert by ref, lifecycle moves, assignment, comments, custom events, timelines, links,
blocks, similar cases and the supervisor's aggregates.

Reads need a reader key, changes a writer key; defining a kind and deleting a case need
an admin key. Another tenant's case ids answer 404.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api import pagination
from agentledger.api.auth import Admin, ReaderTenant, WriterTenant, scope
from agentledger.api.pagination import Limit
from agentledger.api.schemas import Page
from agentledger.cases import (
    Case,
    CaseAggregates,
    CaseEvent,
    SimilarCase,
    UpsertedCase,
)
from agentledger.errors import InvalidInput, NotFound
from agentledger.events import Appended

router = APIRouter(prefix="/v1", tags=["cases"])
Severity = Literal["low", "medium", "high", "critical"]
Order = Literal["score", "created_at", "updated_at", "severity", "sla_deadline"]
ActorType = Literal["agent", "user", "system"]
AT_HELP = "When this happened, for imported history (with a zone; default now)."


class CaseFields(BaseModel):
    """A case's typed fields; each absent one is left as it is."""

    model_config = ConfigDict(extra="forbid")
    body: str | None = Field(default=None, examples=["Trade 77 did not settle."])
    type: str | None = Field(default=None, examples=["SettlementFail"])
    severity: Severity | None = None
    score: float | None = Field(default=None, ge=0, le=10, examples=[7.5])
    confidence: float | None = Field(default=None, ge=0, le=1, examples=[0.8])
    owner: str | None = Field(default=None, examples=["ops-team"])
    domain: str | None = Field(default=None, examples=["Finance"])
    entity: str | None = Field(default=None, examples=["counterparty:ACME"])
    source: str | None = Field(default=None, examples=["Murex"])
    amount: Decimal | None = Field(default=None, examples=["1250000.50"])
    sla_deadline: dt.datetime | None = None
    playbook: str | None = Field(default=None, examples=["settlement-retry"])
    playbook_step: int | None = Field(default=None, ge=0)
    attrs: dict[str, Any] | None = Field(
        default=None, description="Merged key by key into the stored attributes."
    )
    by: str | None = Field(default=None, max_length=200, examples=["triage-agent"])
    at: dt.datetime | None = Field(default=None, description=AT_HELP)

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CaseIn(CaseFields):
    kind: str = Field(min_length=1, max_length=100, examples=["exception"])
    title: str = Field(min_length=1, max_length=500, examples=["Settlement failed for ACME"])
    ref: str | None = Field(default=None, max_length=200, examples=["EX-2025-0001"])
    status: str | None = Field(default=None, description="Default: the kind's initial status.")
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")


class CaseUpsertIn(CaseFields):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    status: str | None = Field(default=None, description="A different one must be a move.")
    id: UUID | None = Field(default=None, description="The id if the case is new.")


class CasePatchIn(CaseFields):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    clear: list[str] | None = Field(default=None, examples=[["sla_deadline"]])
    expected_version: int | None = Field(default=None, ge=1)


class CaseTransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(min_length=1, max_length=100, examples=["analyzing"])
    by: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, examples=["triaged"])
    expected_version: int | None = Field(default=None, ge=1)
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class CaseAssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str | None = Field(description="null: to nobody.", examples=["ana"])
    by: str | None = Field(default=None, max_length=200)
    expected_version: int | None = Field(default=None, ge=1)
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class CaseCommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, examples=["Custodian confirmed the fail."])
    by: str | None = Field(default=None, max_length=200)
    actor_type: ActorType | None = None
    at: dt.datetime | None = Field(default=None, description=AT_HELP)
    id: UUID | None = Field(default=None, description="Client-side id: retries are idempotent.")


class CaseEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=200, examples=["TriageCompleted"])
    data: dict[str, Any] = Field(default_factory=dict, examples=[{"severity": "high"}])
    event_id: UUID | None = Field(
        default=None, description="The same id again appends nothing (already_appended)."
    )
    by: str | None = Field(default=None, max_length=200)
    actor_type: ActorType | None = None
    at: dt.datetime | None = Field(default=None, description=AT_HELP)


class CaseQuery(BaseModel):
    """The query parameters of a case listing: the list operation's filters, order and page."""

    kind: str | None = None
    status: list[str] | None = Field(default=None, description="One or several.")
    severity: list[Severity] | None = Field(default=None, description="One or several.")
    domain: str | None = None
    owner: str | None = None
    entity: str | None = None
    source: str | None = None
    type: str | None = None
    open: bool | None = None
    sla_breached: bool = False
    now: dt.datetime | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    opened_after: dt.datetime | None = None
    opened_before: dt.datetime | None = None
    resolved_after: dt.datetime | None = None
    resolved_before: dt.datetime | None = None
    attrs: str | None = Field(
        default=None, description='A JSON object the attributes contain: {"region":"eu"}.'
    )
    order: Order = "created_at"
    cursor: str | None = None
    limit: Limit = 50


class CaseDetail(BaseModel):
    case: Case
    timeline: list[CaseEvent]


@router.get("/cases", response_model=Page[Case], summary="Cases matching filters, one page")
async def list_cases(tenant: ReaderTenant, query: Annotated[CaseQuery, Query()]) -> object:
    given = query.model_dump(exclude={"attrs"})
    page = await tenant.cases.list(**given, attrs=_json_object("attrs", query.attrs))
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/cases", status_code=201, response_model=Case, summary="Open a case")
async def create_case(body: CaseIn, tenant: WriterTenant) -> object:
    return await tenant.cases.create(**body.given())


@router.get(
    "/cases/aggregates",
    response_model=CaseAggregates,
    summary="The supervisor's view: counts, SLA breaches, ages, resolution times",
)
async def aggregates(
    tenant: ReaderTenant,
    kind: str | None = None,
    domain: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> object:
    return await tenant.cases.aggregates(
        kind=kind, domain=domain, since=since, until=until, now=now
    )


@router.get(
    "/cases/sla-breaches",
    response_model=list[Case],
    summary="Open cases past their SLA deadline, most overdue first",
)
async def sla_breaches(
    tenant: ReaderTenant,
    now: dt.datetime | None = None,
    kind: str | None = None,
    domain: str | None = None,
    limit: Limit = 100,
) -> object:
    return await tenant.cases.find_sla_breaches(now, kind=kind, domain=domain, limit=limit)


@router.get("/cases/by-ref/{ref}", response_model=Case, summary="The case with an external ref")
async def get_by_ref(ref: str, tenant: ReaderTenant, kind: str | None = None) -> object:
    return await tenant.cases.get_by_ref(ref, kind=kind)


@router.put(
    "/cases/by-ref/{kind}/{ref}",
    response_model=UpsertedCase,
    summary="Create or change the case of a kind with an external ref",
    description="201 when created. The same content again changes nothing (changed: []).",
    responses={201: {"model": UpsertedCase, "description": "Created"}},
)
async def upsert_case(
    kind: str, ref: str, body: CaseUpsertIn, response: Response, tenant: WriterTenant
) -> object:
    done = await tenant.cases.upsert(kind, ref, **body.given())
    response.status_code = 201 if done.created else 200
    return done


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case with its timeline")
async def get_case(
    case_id: UUID,
    tenant: ReaderTenant,
    events: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> object:
    case, timeline = await tenant.cases.detail(case_id, limit=events)  # one consistent read
    return {"case": case, "timeline": timeline}


@router.patch(
    "/cases/{case_id}",
    response_model=Case,
    summary="Change fields (absent ones are kept; expected_version guards a stale write)",
)
async def update_case(case_id: UUID, body: CasePatchIn, tenant: WriterTenant) -> object:
    return await tenant.cases.update(case_id, **body.given())


@router.delete("/cases/{case_id}", status_code=204, summary="Delete a case (its timeline stays)")
async def delete_case(case_id: UUID, request: Request, who: Admin) -> None:
    if not await scope(request, who).cases.delete(case_id, by=f"key:{who.key_id}"):
        raise NotFound(f"case {case_id} does not exist", field="case_id")


@router.post(
    "/cases/{case_id}/transition",
    response_model=Case,
    summary="Move a case to a status (a move its kind does not allow is 409)",
)
async def transition_case(case_id: UUID, body: CaseTransitionIn, tenant: WriterTenant) -> object:
    return await tenant.cases.transition(case_id, **body.model_dump())


@router.post("/cases/{case_id}/assign", response_model=Case, summary="Give a case to an owner")
async def assign_case(case_id: UUID, body: CaseAssignIn, tenant: WriterTenant) -> object:
    return await tenant.cases.assign(
        case_id, body.owner, by=body.by, expected_version=body.expected_version, at=body.at
    )


@router.post(
    "/cases/{case_id}/comments",
    status_code=201,
    response_model=CaseEvent,
    summary="Comment on a case",
)
async def comment_case(case_id: UUID, body: CaseCommentIn, tenant: WriterTenant) -> object:
    return await tenant.cases.comment(
        case_id, body.text, by=body.by, actor_type=body.actor_type, at=body.at, id=body.id
    )


@router.post(
    "/cases/{case_id}/events",
    response_model=Appended,
    summary="Append an event of your own type to a case's timeline",
    description="201 when appended; 200 with already_appended when the event id was stored "
    "before with the same content (409 with other content).",
    status_code=201,
    responses={200: {"model": Appended, "description": "Already appended"}},
)
async def append_event(
    case_id: UUID, body: CaseEventIn, response: Response, tenant: WriterTenant
) -> object:
    appended = await tenant.cases.append_event(case_id, **body.model_dump())
    response.status_code = 200 if appended.already_appended else 201
    return appended


@router.get(
    "/cases/{case_id}/events",
    response_model=Page[CaseEvent],
    summary="A case's timeline, oldest first",
)
async def timeline(
    case_id: UUID, tenant: ReaderTenant, cursor: str | None = None, limit: Limit = 100
) -> object:
    after = pagination.cursor_int(cursor, "after") or 0
    items = await tenant.cases.timeline(case_id, after=after, limit=limit)
    return pagination.page(items, limit, lambda last: {"after": last.version})


@router.get(
    "/cases/{case_id}/similar",
    response_model=list[SimilarCase],
    summary="The cases most like one: same entity, same type, then shared words",
)
async def similar(
    case_id: UUID, tenant: ReaderTenant, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> object:
    return await tenant.cases.similar(case_id, limit=limit)


def _json_object(field: str, text: str | None) -> dict[str, Any] | None:
    """A query parameter holding a JSON object; InvalidInput naming it otherwise."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{field} is not JSON", field=field) from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object", field=field)
    return value
