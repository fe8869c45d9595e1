# Generated from src/agentledger/tenants/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Tenant administration (platform scope) and a tenant's API keys: the async façade."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from agentledger.db.binding import Binding
from agentledger.db.database_sync import Database, Runner
from agentledger.tenants import ops
from agentledger.tenants.records import ApiKey, CreatedKey, KeyIdentity, Tenant

PLATFORM = Binding.platform()


class Tenants:
    """Create, list and change the status of tenants; authenticate API keys."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        id: str,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        exist_ok: bool = False,
    ) -> Tenant:
        return self._db.run(ops.create(id, name, metadata, exist_ok=exist_ok), PLATFORM)

    def get(self, id: str) -> Tenant:
        return self._db.run(ops.get(id), PLATFORM)

    def list(self, *, status: str | None = None, after: str = "", limit: int = 100) -> list[Tenant]:
        return self._db.run(ops.list_(status=status, after=after, limit=limit), PLATFORM)

    def suspend(self, id: str) -> Tenant:
        """Suspended tenants can read but not write."""
        return self._db.run(ops.transition(id, "suspend"), PLATFORM)

    def archive(self, id: str) -> Tenant:
        """Archived tenants can neither read nor write; their data is kept."""
        return self._db.run(ops.transition(id, "archive"), PLATFORM)

    def activate(self, id: str) -> Tenant:
        return self._db.run(ops.transition(id, "activate"), PLATFORM)

    def authenticate(self, secret: str) -> KeyIdentity | None:
        """The tenant and role of a live API key, or None."""
        return self._db.run(ops.authenticate(secret), PLATFORM)


class Keys:
    """The bound tenant's API keys."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def create(self, *, role: str, name: str = "") -> CreatedKey:
        """A new key for role admin, writer or reader; its secret is returned only here."""
        return self._run(ops.create_key(role=role, name=name))

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        return self._run(ops.list_keys(include_revoked=include_revoked))

    def revoke(self, key_id: UUID | str) -> ApiKey:
        return self._run(ops.revoke_key(key_id))
