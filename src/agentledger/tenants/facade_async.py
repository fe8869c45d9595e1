"""Tenant administration (platform scope) and a tenant's API keys: the async façade."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async
from agentledger.errors import NotFound
from agentledger.tenants import ops
from agentledger.tenants.records import PURGE_BATCH, KeyIdentity, PurgeResult, SignIn, Tenant

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

    async def rows(self, id: str) -> dict[str, int]:
        """How many rows the tenant holds per table (schema-qualified names, the
        application's own tables included), tables holding none left out: what ``purge``
        would delete."""
        return await self._db.run(ops.rows(id), PLATFORM)

    async def purge(
        self,
        id: str,
        *,
        batch_size: int = PURGE_BATCH,
        progress: Callable[[str, int], object] | None = None,
    ) -> PurgeResult:
        """Delete an archived tenant: every row it holds in every table (the event log and
        decisions too, which nothing else deletes; the application's own tenant tables
        first), then the tenant, its keys and reporting grants. Irreversible.

        Works in batches of ``batch_size`` rows, each its own short transaction, so a
        large tenant never holds a long lock; ``progress(table, count)`` is called after
        each. The tenant must be archived (IllegalTransition naming its status; checked on
        every batch, so an activation stops a purge midway, keeping what is left);
        NotFound when it does not exist. Interrupted, it is resumed by calling it again.
        A table that references itself is emptied leaves first (rows that reference each
        other in a cycle longer than ``batch_size``: Conflict naming ``batch_size``); a row
        committed during the purge by a transaction begun before the archive is deleted
        with the rest (a batch that keeps failing on references: Conflict saying so)."""
        deleted: dict[str, int] = {}
        batches = 0
        while True:
            try:
                table, count = await self._db.run(
                    ops.purge_batch(id, batch_size=batch_size), PLATFORM
                )
            except NotFound as exc:
                if not batches or exc.field != "id":
                    raise
                # The batch that deleted the tenant was retried after its answer was lost.
                table, count = ops.TENANTS_TABLE, 1
            batches += 1
            if table == ops.TENANTS_TABLE:
                return PurgeResult(tenant_id=id, deleted=deleted, batches=batches)
            deleted[table] = deleted.get(table, 0) + count
            if progress is not None:
                progress(table, count)

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
