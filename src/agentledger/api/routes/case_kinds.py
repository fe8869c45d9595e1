"""Case kinds over HTTP: each kind's statuses and the moves between them. Reading needs a
reader key, defining an admin key."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import AdminTenant, ReaderTenant
from agentledger.cases import CaseKind

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseKindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statuses: list[str] = Field(
        min_length=1, examples=[["open", "analyzing", "resolved", "escalated"]]
    )
    transitions: dict[str, list[str]] = Field(
        examples=[{"open": ["analyzing"], "analyzing": ["resolved", "escalated"]}]
    )
    initial: str | None = Field(default=None, description="Default: the first status.")
    terminal: list[str] = Field(default_factory=list, examples=[["resolved"]])


@router.get("/case-kinds", response_model=list[CaseKind], summary="The tenant's case kinds")
async def list_kinds(tenant: ReaderTenant) -> object:
    return await tenant.cases.kinds()


@router.get("/case-kinds/{kind}", response_model=CaseKind, summary="One case kind")
async def get_kind(kind: str, tenant: ReaderTenant) -> object:
    return await tenant.cases.kind(kind)


@router.put(
    "/case-kinds/{kind}",
    response_model=CaseKind,
    summary="Define or redefine a case kind and its lifecycle",
    description="A redefinition may add statuses and change the moves; dropping a status "
    "that still holds cases, or changing whether a status is terminal, is 409.",
)
async def define_kind(kind: str, body: CaseKindIn, tenant: AdminTenant) -> object:
    return await tenant.cases.define_kind(kind, **body.model_dump())
