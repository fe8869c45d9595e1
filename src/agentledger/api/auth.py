"""Who is calling: API keys (``Authorization: Bearer``), roles, the platform admin key."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from agentledger.ledger import AsyncLedger, AsyncTenantScope

ROLE_RANK = {"reader": 0, "writer": 1, "admin": 2}
CACHE_SECONDS = 5.0  # a revoked key stops working within this many seconds


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    tenant_id: str
    role: str
    key_id: str

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class KeyCache:
    """Recently verified keys, so a burst of requests costs one lookup."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def get(self, secret: str) -> tuple[bool, Principal | None]:
        hit = self._entries.get(secret)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, secret: str, principal: Principal | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[secret] = (time.monotonic() + CACHE_SECONDS, principal)


def ledger_of(request: Request) -> AsyncLedger:
    ledger: AsyncLedger = request.app.state.ledger
    return ledger


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(
            401,
            "Missing or malformed Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return secret.strip()


async def resolve(request: Request, secret: str) -> Principal | None:
    """The principal of a live key (cached briefly), or None."""
    cache: KeyCache = request.app.state.key_cache
    known, found = cache.get(secret)
    if not known:
        identity = await ledger_of(request).tenants.authenticate(secret)
        found = (
            None
            if identity is None
            else Principal(
                tenant_id=identity.tenant_id, role=identity.role, key_id=str(identity.key_id)
            )
        )
        cache.put(secret, found)
    return found


async def principal(request: Request) -> Principal:
    found = await resolve(request, bearer(request))
    if found is None:
        raise HTTPException(
            401, "Unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.tenant_id = found.tenant_id
    return found


def requires(role: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can(role):
            raise HTTPException(403, f"This needs the {role} role; the key is {who.role}")
        return who

    return check


Reader = Annotated[Principal, Depends(requires("reader"))]
Writer = Annotated[Principal, Depends(requires("writer"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


async def platform_admin(request: Request) -> None:
    secret = bearer(request)
    expected = request.app.state.admin_key
    if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise HTTPException(403, "This needs the platform admin key")


PlatformAdmin = Annotated[None, Depends(platform_admin)]


def scope(request: Request, who: Principal) -> AsyncTenantScope:
    """The caller's tenant: always from the key, never from the path or body."""
    return ledger_of(request).tenant(who.tenant_id)
