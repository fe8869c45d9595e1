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

from agentledger.errors import Unavailable
from agentledger.ledger import AsyncLedger, AsyncTenantScope
from agentledger.tenants import KeyIdentity

ROLES = ("reader", "writer", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
CACHE_SECONDS = 5.0  # a revoked key stops working within this many seconds
CACHE_SIZE = 10_000  # keys a process remembers; the least recently verified go first
# While the database is unreachable, how long a key it last verified is accepted without
# asking again: the database is asked at most this often, and a key is checked again (a
# revocation made during the outage takes effect) within this long of the database's return.
OUTAGE_RECHECK_SECONDS = 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    tenant_id: str
    role: str
    key_id: str
    tenant_status: str = "active"  # archived: its requests are refused when they bind

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class KeyCache:
    """Recently verified keys, so a burst of requests costs one lookup; and, past their
    freshness, the principal each key was last verified as, which stands in for it while
    the database cannot be asked (an outage). At most ``size`` keys, the least recently
    verified forgotten first."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._size = size
        self._down_until = 0.0  # the database was unreachable a moment ago: until then

    def get(self, secret: str) -> tuple[bool, Principal | None]:
        hit = self._entries.get(secret)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def last_known(self, secret: str) -> Principal | None:
        """The principal ``secret`` was last verified as, however long ago (None: never
        verified as a live key, or forgotten since)."""
        hit = self._entries.get(secret)
        return None if hit is None else hit[1]

    def clear(self) -> None:
        """Forget every key: after a change that may end some (a revocation, a purge)."""
        self._entries.clear()

    def put(self, secret: str, principal: Principal | None) -> None:
        self._entries.pop(secret, None)  # re-inserted last: the most recently verified
        while len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[secret] = (time.monotonic() + CACHE_SECONDS, principal)
        self._down_until = 0.0  # the database answered

    @property
    def down(self) -> bool:
        """Whether the database was found unreachable within ``OUTAGE_RECHECK_SECONDS``."""
        return time.monotonic() < self._down_until

    def went_down(self) -> None:
        self._down_until = time.monotonic() + OUTAGE_RECHECK_SECONDS


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
    every face (REST, console, MCP) turns a key into a tenant and a role this one way.

    While the database is unreachable, a key this process verified before keeps its last
    known principal (so a write may wait in the spool; a read fails on its own), until the
    database answers again; a key it never verified raises Unavailable: there is nothing
    to check it against."""
    known, found = cache.get(secret)
    if known:
        return found
    last = cache.last_known(secret)
    if last is not None and cache.down:
        return last  # found unreachable a moment ago: don't make each request wait to see
    try:
        identity = await ledger.tenants.authenticate(secret)
    except Unavailable:
        if last is None:
            raise
        cache.went_down()
        return last
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
