"""Tenant administration (platform scope) and a tenant's API keys: the async façade."""

from __future__ import annotations

import secrets
from typing import Any

from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async
from agentledger.tenants import ops
from agentledger.tenants.records import KeyIdentity, SignIn, Tenant

PLATFORM = Binding.platform()


class AsyncTenants:
    """Create, list and change the status of tenants; authenticate API keys."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def create(
        self,
        id: str,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        exist_ok: bool = False,
    ) -> Tenant:
        return await self._db.run(ops.create(id, name, metadata, exist_ok=exist_ok), PLATFORM)

    async def get(self, id: str) -> Tenant:
        return await self._db.run(ops.get(id), PLATFORM)

    async def list(
        self, *, status: str | None = None, after: str = "", limit: int = 100
    ) -> list[Tenant]:
        return await self._db.run(ops.list_(status=status, after=after, limit=limit), PLATFORM)

    async def suspend(self, id: str) -> Tenant:
        """Suspended tenants can read but not write."""
        return await self._db.run(ops.transition(id, "suspend"), PLATFORM)

    async def archive(self, id: str) -> Tenant:
        """Archived tenants can neither read nor write; their data is kept."""
        return await self._db.run(ops.transition(id, "archive"), PLATFORM)

    async def activate(self, id: str) -> Tenant:
        return await self._db.run(ops.transition(id, "activate"), PLATFORM)

    async def authenticate(self, secret: str) -> KeyIdentity | None:
        """The tenant and role of a live API key, or None."""
        return await self._db.run(ops.authenticate(secret), PLATFORM)

    async def sign_in(self, secret: str, *, seconds: float = ops.SIGN_IN_SECONDS) -> SignIn | None:
        """Open a console sign-in with a live API key, for ``seconds`` (at most 30 days), or
        None when the key is unknown or revoked. Kept in the database, so any process
        serving the console honours it."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        return await self._db.run(ops.sign_in(secret, token, csrf, seconds=seconds), PLATFORM)

    async def signed_in(self, token: str) -> SignIn | None:
        """The live sign-in a browser's ``token`` stands for, or None."""
        return await self._db.run(ops.signed_in(token), PLATFORM)

    async def sign_out(self, token: str) -> bool:
        """End the sign-in ``token`` stands for; whether there was one."""
        return await self._db.run(ops.sign_out(token), PLATFORM)


class AsyncKeys(AsyncFacade):
    """The bound tenant's API keys."""

    create = forward_async(ops.create_key)
    list = forward_async(ops.list_keys)
    revoke = forward_async(ops.revoke_key)
