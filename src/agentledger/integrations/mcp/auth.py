"""Who calls the MCP server: an agentledger API key decides the tenant and the role, exactly
as for the REST API (``web.auth.lookup``), on either transport.

Over stdio the key is the one the server was started with; over streamable HTTP each request
carries its own in ``Authorization: Bearer``, checked by the SDK's bearer middleware through
:class:`KeyVerifier`. Either way a tool asks :class:`Access` for a tenant scope at the role it
needs, and every call re-reads the key (through the short ``KeyCache``), so a revoked key
stops working within ``CACHE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from agentledger.errors import PermissionDenied
from agentledger.ledger import AsyncLedger, AsyncTenantScope
from agentledger.web.auth import KeyCache, Principal, lookup

# How a transport names the caller of the current request.
Caller = Callable[[], Awaitable[Principal]]

UNKNOWN_KEY = "The API key is unknown or revoked"


class Access:
    """A tenant scope for the current caller, at the role a tool needs."""

    def __init__(self, ledger: AsyncLedger, caller: Caller) -> None:
        self._ledger = ledger
        self._caller = caller

    async def scope(self, role: str) -> AsyncTenantScope:
        """The caller's tenant (always from the key, never from the arguments); PermissionDenied
        naming both roles when the key's role does not reach ``role``."""
        who = await self._caller()
        if not who.can(role):
            raise PermissionDenied(f"This needs the {role} role; the key is {who.role}")
        return self._ledger.tenant(who.tenant_id)


def key_caller(ledger: AsyncLedger, secret: str, cache: KeyCache | None = None) -> Caller:
    """The caller of a server started with one key (stdio)."""
    known = cache if cache is not None else KeyCache()

    async def caller() -> Principal:
        found = await lookup(ledger, known, secret)
        if found is None:
            raise PermissionDenied(UNKNOWN_KEY)
        return found

    return caller


async def bearer_caller() -> Principal:
    """The caller of the current HTTP request, as :class:`KeyVerifier` admitted it."""
    token = get_access_token()
    claims = token.claims if token is not None else None
    if token is None or not claims:
        raise PermissionDenied(UNKNOWN_KEY)
    return Principal(tenant_id=claims["tenant_id"], role=claims["role"], key_id=token.client_id)


class KeyVerifier:
    """The SDK's token verifier over agentledger keys: a live key is an access token whose
    client is the key, whose scope is its role and whose claims name its tenant."""

    def __init__(self, ledger: AsyncLedger, cache: KeyCache | None = None) -> None:
        self._ledger = ledger
        self._cache = cache if cache is not None else KeyCache()

    async def verify_token(self, token: str) -> AccessToken | None:
        found = await lookup(self._ledger, self._cache, token.strip())
        if found is None:
            return None
        return AccessToken(
            token=token,
            client_id=found.key_id,
            scopes=[found.role],
            subject=f"{found.tenant_id}/{found.key_id}",
            claims={"tenant_id": found.tenant_id, "role": found.role},
        )
