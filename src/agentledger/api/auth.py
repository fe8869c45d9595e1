"""Who is calling the API: API keys (``Authorization: Bearer``), roles, the platform admin key."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer

from agentledger.ledger import AsyncTenantScope
from agentledger.web.auth import (
    Principal,
    RoleCheck,
    resolve,
    scope as scope,  # the routes' way to their tenant
)

# The request state's flag that authentication accepted the request's key.
KEY_ACCEPTED = "bearer_key_accepted"

# Declares the bearer scheme in the OpenAPI document for every route of the API's routers
# (a dependency of each, see app.py); the header itself is read by ``bearer``, so a missing
# key is our 401 problem, not FastAPI's 403.
SCHEME = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


def bearer_secret(header: str) -> str | None:
    """The key an ``Authorization: Bearer <key>`` header presents, or None when it presents
    none (missing or malformed). The one way both the rate limiter and authentication read
    the header, so a key is counted as what it is accepted as: only ASCII spaces and tabs
    around it are dropped, and a key holding any other whitespace or a control character
    (a no-break space, NEL...) is malformed, never another spelling of the same key."""
    scheme, _, secret = header.partition(" ")
    secret = secret.strip(" \t")
    if scheme.lower() != "bearer" or not secret:
        return None
    if not all(c.isprintable() and not c.isspace() for c in secret):
        return None
    return secret


def bearer(request: Request) -> str:
    secret = bearer_secret(request.headers.get("authorization", ""))
    if secret is None:
        raise _unauthorized("Missing or malformed Authorization: Bearer <key>")
    return secret


def _accepted(request: Request) -> None:
    """Note in the request's state that its key is a live one (the rate limiter then
    counts it as a caller of its own, see ratelimit.py)."""
    setattr(request.state, KEY_ACCEPTED, True)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def principal(request: Request) -> Principal:
    found = await resolve(request, bearer(request))
    if found is None:
        raise _unauthorized("Unknown or revoked API key")
    _accepted(request)
    request.state.tenant_id = found.tenant_id
    return found


def still_allowed(request: Request, who: Principal) -> Callable[[], Awaitable[bool]]:
    """For an answer that lasts (an event stream): whether the key that opened it still
    works (is not revoked, its tenant not archived), asked again as it goes."""
    secret = bearer(request)

    async def check() -> bool:
        found = await resolve(request, secret)
        return (
            found is not None and found.key_id == who.key_id and found.tenant_status != "archived"
        )

    return check


def requires(role: str) -> RoleCheck:
    """The bearer key's principal if its role reaches ``role``."""
    return RoleCheck(role, principal)


Reader = Annotated[Principal, Depends(requires("reader"))]
Writer = Annotated[Principal, Depends(requires("writer"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


# The caller's tenant for a route that needs nothing else of the request or the key; each
# depends on its role check, so the role a route demands stays visible on the route.
async def _reader_tenant(request: Request, who: Reader) -> AsyncTenantScope:
    return scope(request, who)


async def _writer_tenant(request: Request, who: Writer) -> AsyncTenantScope:
    return scope(request, who)


async def _admin_tenant(request: Request, who: Admin) -> AsyncTenantScope:
    return scope(request, who)


ReaderTenant = Annotated[AsyncTenantScope, Depends(_reader_tenant)]
WriterTenant = Annotated[AsyncTenantScope, Depends(_writer_tenant)]
AdminTenant = Annotated[AsyncTenantScope, Depends(_admin_tenant)]


async def platform_admin(request: Request) -> None:
    """Passes the platform admin key. Any other key is 401 unless it is a live tenant key
    (then 403): a wrong guess at the admin key is a refused key, which the rate limiter
    counts against its address like any other."""
    secret = bearer(request)
    expected = request.app.state.admin_key
    if expected is not None and hmac.compare_digest(secret.encode(), expected.encode()):
        _accepted(request)
        return
    if await resolve(request, secret) is None:
        raise _unauthorized("Unknown or revoked API key")
    _accepted(request)
    raise HTTPException(403, "This needs the platform admin key")


PlatformAdmin = Annotated[None, Depends(platform_admin)]
