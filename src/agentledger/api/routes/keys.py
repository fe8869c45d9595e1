"""The calling tenant's own API keys (admin role)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from agentledger.api.auth import AdminTenant
from agentledger.api.schemas import KeyIn
from agentledger.tenants.records import ApiKey, CreatedKey

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", response_model=list[ApiKey], summary="The tenant's API keys")
async def list_keys(tenant: AdminTenant, include_revoked: bool = False) -> object:
    return await tenant.keys.list(include_revoked=include_revoked)


@router.post("", status_code=201, response_model=CreatedKey, summary="Create an API key")
async def create_key(body: KeyIn, tenant: AdminTenant) -> object:
    return await tenant.keys.create(role=body.role, name=body.name)


@router.post("/{key_id}/revoke", response_model=ApiKey, summary="Revoke an API key")
async def revoke_key(key_id: UUID, request: Request, tenant: AdminTenant) -> object:
    request.app.state.key_cache.clear()
    return await tenant.keys.revoke(key_id)
