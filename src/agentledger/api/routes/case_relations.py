"""What a case is tied to, over HTTP: the memory entities it is linked to and the cases it
blocks. Reading needs a reader key, changes a writer key; unknown pairs answer 404."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import ReaderTenant, WriterTenant
from agentledger.cases import Case, CaseLink
from agentledger.errors import NotFound

router = APIRouter(prefix="/v1", tags=["cases"])


class CaseLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity_id: UUID
    role: str = Field(default="", max_length=100, examples=["counterparty"])
    by: str | None = Field(default=None, max_length=200)


class CaseBlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: UUID = Field(description="The case this one blocks.")
    by: str | None = Field(default=None, max_length=200)


class CaseBlocks(BaseModel):
    blocking: list[Case] = Field(description="The cases this one blocks.")
    blocked_by: list[Case] = Field(description="The cases that block this one.")


class CaseChanged(BaseModel):
    changed: bool


@router.get(
    "/cases/{case_id}/links",
    response_model=list[CaseLink],
    summary="The memory entities a case is linked to",
)
async def links(case_id: UUID, tenant: ReaderTenant) -> object:
    return await tenant.cases.linked_entities(case_id)


@router.post(
    "/cases/{case_id}/links", response_model=CaseChanged, summary="Link a case to a memory entity"
)
async def link(case_id: UUID, body: CaseLinkIn, tenant: WriterTenant) -> object:
    done = await tenant.cases.link_entity(case_id, body.entity_id, role=body.role, by=body.by)
    return {"changed": done}


@router.delete(
    "/cases/{case_id}/links/{entity_id}", status_code=204, summary="Unlink a memory entity"
)
async def unlink(case_id: UUID, entity_id: UUID, tenant: WriterTenant, role: str = "") -> None:
    if not await tenant.cases.unlink_entity(case_id, entity_id, role=role):
        raise NotFound(f"case {case_id} is not linked to {entity_id}", field="entity_id")


@router.get(
    "/cases/{case_id}/blocks",
    response_model=CaseBlocks,
    summary="The cases a case blocks and those that block it",
)
async def blocks(case_id: UUID, tenant: ReaderTenant) -> object:
    cases = tenant.cases
    return {
        "blocking": await cases.blocking(case_id),
        "blocked_by": await cases.blocked_by(case_id),
    }


@router.post(
    "/cases/{case_id}/blocks",
    response_model=CaseChanged,
    summary="This case blocks another (a cycle is 409)",
)
async def block(case_id: UUID, body: CaseBlockIn, tenant: WriterTenant) -> object:
    return {"changed": await tenant.cases.block(case_id, body.blocks, by=body.by)}


@router.delete(
    "/cases/{case_id}/blocks/{blocked_id}",
    status_code=204,
    summary="This case no longer blocks another",
)
async def unblock(case_id: UUID, blocked_id: UUID, tenant: WriterTenant) -> None:
    if not await tenant.cases.unblock(case_id, blocked_id):
        raise NotFound(f"case {case_id} does not block {blocked_id}", field="blocked_id")
