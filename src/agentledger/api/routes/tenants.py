"""Tenant administration with the platform admin key."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from agentledger.api.auth import PlatformAdmin
from agentledger.api.pagination import Limit, cursor_text, page
from agentledger.api.schemas import KeyIn, Page, TenantIn
from agentledger.db.binding import TENANT_ID
from agentledger.errors import InvalidInput
from agentledger.tenants.records import (
    MAX_PURGE_BATCH,
    PURGE_BATCH,
    CreatedKey,
    PurgeResult,
    Tenant,
    TenantStatus,
)
from agentledger.web.auth import ledger_of

router = APIRouter(prefix="/v1/tenants", tags=["tenants (platform admin)"])


@router.post("", status_code=201, response_model=Tenant, summary="Create a tenant")
async def create_tenant(body: TenantIn, request: Request, _: PlatformAdmin) -> object:
    return await ledger_of(request).tenants.create(body.id, body.name, body.metadata)


@router.get("", response_model=Page[Tenant], summary="List tenants (keyset pages)")
async def list_tenants(
    request: Request,
    _: PlatformAdmin,
    status: TenantStatus | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    after = cursor_text(cursor, "id")
    if after is not None and not TENANT_ID.fullmatch(after):  # never a tenant's id: forged
        raise InvalidInput("cursor is not a cursor this API issued", field="cursor")
    items = await ledger_of(request).tenants.list(status=status, after=after or "", limit=limit)
    return page(items, limit, lambda last: {"id": last.id})


@router.get("/{tenant_id}", response_model=Tenant, summary="One tenant")
async def get_tenant(tenant_id: str, request: Request, _: PlatformAdmin) -> object:
    return await ledger_of(request).tenants.get(tenant_id)


@router.get(
    "/{tenant_id}/rows",
    response_model=dict[str, int],
    summary="The rows a tenant holds per table: what a purge would delete",
)
async def tenant_rows(tenant_id: str, request: Request, _: PlatformAdmin) -> object:
    return await ledger_of(request).tenants.rows(tenant_id)


@router.delete(
    "/{tenant_id}",
    response_model=PurgeResult,
    summary="Purge an archived tenant: every row it holds, then the tenant (irreversible)",
    responses={409: {"description": "The tenant is not archived"}},
)
async def purge_tenant(
    tenant_id: str,
    request: Request,
    _: PlatformAdmin,
    batch_size: Annotated[int, Query(ge=1, le=MAX_PURGE_BATCH)] = PURGE_BATCH,
) -> object:
    result = await ledger_of(request).tenants.purge(tenant_id, batch_size=batch_size)
    request.app.state.key_cache.clear()
    return result


@router.post(
    "/{tenant_id}/keys",
    status_code=201,
    response_model=CreatedKey,
    summary="Create an API key for a tenant",
)
async def create_tenant_key(
    tenant_id: str, body: KeyIn, request: Request, _: PlatformAdmin
) -> object:
    return await ledger_of(request).tenant(tenant_id).keys.create(role=body.role, name=body.name)


@router.post(
    "/{tenant_id}/{action}",
    response_model=Tenant,
    summary="Suspend, activate or archive a tenant",
)
async def transition_tenant(
    tenant_id: str,
    action: Literal["suspend", "activate", "archive"],
    request: Request,
    _: PlatformAdmin,
) -> object:
    return await getattr(ledger_of(request).tenants, action)(tenant_id)
