"""Principals and roles: one role check for every state-changing route of every face.

A route that changes state depends on a :class:`RoleCheck` (identifying the caller by the
API's bearer key or the console's session); the check carries the role it demands, so a test
can prove that no such route was left without one, and that both faces demand the same role
for the same action.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from agentledger.ledger import AsyncLedger, AsyncTenantScope
from agentledger.tenants import KeyIdentity

ROLES = ("reader", "writer", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
CACHE_SECONDS = 5.0  # a revoked key stops working within this many seconds


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    tenant_id: str
    role: str
    key_id: str
    tenant_status: str = "active"  # archived: its requests are refused when they bind

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

    def clear(self) -> None:
        """Forget every key: after a change that may end some (a revocation, a purge)."""
        self._entries.clear()

    def put(self, secret: str, principal: Principal | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[secret] = (time.monotonic() + CACHE_SECONDS, principal)


def ledger_of(request: Request) -> AsyncLedger:
    ledger: AsyncLedger = request.app.state.ledger
    return ledger


def scope(request: Request, who: Principal) -> AsyncTenantScope:
    """The caller's tenant: always from the key, never from the path or body."""
    return ledger_of(request).tenant(who.tenant_id)


async def resolve(request: Request, secret: str) -> Principal | None:
    """The principal of a live key (cached briefly), or None."""
    return await lookup(ledger_of(request), request.app.state.key_cache, secret)


async def lookup(ledger: AsyncLedger, cache: KeyCache, secret: str) -> Principal | None:
    """The principal of a live key, asking ``ledger`` only when ``cache`` does not know it:
    every face (REST, console, MCP) turns a key into a tenant and a role this one way."""
    known, found = cache.get(secret)
    if not known:
        identity = await ledger.tenants.authenticate(secret)
        found = None if identity is None else principal_of(identity)
        cache.put(secret, found)
    return found


def principal_of(identity: KeyIdentity) -> Principal:
    """The principal a live key's identity makes, whatever presented the key."""
    return Principal(
        tenant_id=identity.tenant_id,
        role=identity.role,
        key_id=str(identity.key_id),
        tenant_status=identity.tenant_status,
    )


def authorize(who: Principal, role: str) -> Principal:
    """``who`` if its role reaches ``role``; 403 naming both otherwise."""
    if not who.can(role):
        raise HTTPException(403, f"This needs the {role} role; the key is {who.role}")
    return who


@dataclass(frozen=True, slots=True)
class RoleCheck:
    """A route dependency: the caller, as ``identify`` finds them, if their role reaches
    ``role``. Every route of every face that changes state depends on one."""

    role: str
    identify: Callable[[Request], Awaitable[Principal]]

    def __post_init__(self) -> None:
        if self.role not in ROLE_RANK:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")

    async def __call__(self, request: Request) -> Principal:
        return authorize(await self.identify(request), self.role)
