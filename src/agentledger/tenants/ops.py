"""Tenant administration and API keys, as I/O-free operations."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.binding import check_tenant_id
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import Conflict, NotFound
from agentledger.records import found, from_row
from agentledger.tenants.records import (
    KEY_ROLES,
    TENANT_LIFECYCLE,
    ApiKey,
    CreatedKey,
    KeyIdentity,
    Tenant,
)

Q = Queries.beside(__file__)
KEY_PREFIX = "al_"
MAX_PAGE = 1000


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@operation(idempotent=True)
def create(
    id: str,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    exist_ok: bool = False,
) -> Gen[Tenant]:
    """Create a tenant; Conflict when it exists, unless ``exist_ok``."""
    tenant_id = check_tenant_id(id)
    row = yield Q.insert_tenant.one(
        id=tenant_id,
        name=v.text("name", name if name is not None else tenant_id, max_len=200),
        metadata=v.json_object("metadata", metadata),
    )
    if row is None:
        existing = yield Q.get_tenant.one(id=tenant_id)
        if not exist_ok or existing is None:
            raise Conflict(f"tenant {tenant_id!r} already exists", field="id")
        row = existing
    return from_row(Tenant, row)


@operation(writes=False)
def get(id: str) -> Gen[Tenant]:
    row = yield Q.get_tenant.one(id=check_tenant_id(id))
    if row is None:
        raise NotFound(f"tenant {id!r} does not exist", field="id")
    return from_row(Tenant, row)


@operation(writes=False)
def list_(*, status: str | None = None, after: str = "", limit: int = 100) -> Gen[list[Tenant]]:
    if status is not None:
        v.choice("status", status, TENANT_LIFECYCLE.states)
    rows = yield Q.list_tenants.all(
        status=status,
        after=v.text("after", after, max_len=64, min_len=0),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(Tenant, row) for row in rows]


@operation(idempotent=True)
def transition(id: str, action: str) -> Gen[Tenant]:
    """Suspend, activate or archive; IllegalTransition names the action and current state."""
    tenant_id = check_tenant_id(id)
    row = yield from TENANT_LIFECYCLE.move(
        action,
        Q.transition_tenant.one(id=tenant_id, **TENANT_LIFECYCLE.guard(action)),
        Q.get_tenant.one(id=tenant_id),
        what=f"tenant {id!r}",
        field="id",
    )
    return from_row(Tenant, row)


@operation()
def create_key(*, role: str, name: str = "") -> Gen[CreatedKey]:
    """A new API key for the bound tenant, for role admin, writer or reader; its secret is returned
    only here."""
    v.choice("role", role, KEY_ROLES)
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = yield Q.insert_key.one(
        name=v.text("name", name, max_len=200, min_len=0),
        role=role,
        prefix=prefix,
        hash=hash_key(secret),
    )
    return CreatedKey(key=from_row(ApiKey, row), secret=secret)


@operation(writes=False)
def list_keys(*, include_revoked: bool = False) -> Gen[list[ApiKey]]:
    rows = yield Q.list_keys.all(include_revoked=bool(include_revoked))
    return [from_row(ApiKey, row) for row in rows]


@operation(idempotent=True)
def revoke_key(key_id: UUID | str) -> Gen[ApiKey]:
    row = yield Q.revoke_key.one(id=v.uuid("key_id", key_id))
    return found(ApiKey, row, f"API key {key_id}", field="key_id")


@operation(idempotent=True)
def authenticate(secret: str) -> Gen[KeyIdentity | None]:
    """Who ``secret`` belongs to, or None when it is unknown or revoked."""
    if not isinstance(secret, str) or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    row = yield Q.authenticate_key.one(hash=hash_key(secret))
    return None if row is None else from_row(KeyIdentity, row)
