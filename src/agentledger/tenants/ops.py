"""Tenant administration and API keys, as I/O-free operations."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, TypeGuard
from uuid import UUID

from agentledger import validation as v
from agentledger.attempts import after_unknown_commit
from agentledger.db.binding import TENANT_ID, check_tenant_id
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.records import found, from_row
from agentledger.tenants.records import (
    KEY_ROLES,
    MAX_PURGE_BATCH,
    PURGE_BATCH,
    TENANT_LIFECYCLE,
    ApiKey,
    CreatedKey,
    KeyIdentity,
    SignIn,
    Tenant,
)

Q = Queries.beside(__file__)
KEY_PREFIX = "al_"
MAX_PAGE = 1000
# How long a console sign-in lasts by default, and at most.
SIGN_IN_SECONDS = 12 * 3600
MAX_SIGN_IN_SECONDS = 30 * 24 * 3600
# Between a sign-in token's tenant and its random part: in neither, and a cookie keeps it
# unquoted.
SEPARATOR = "~"


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
    label = v.text("name", name if name is not None else tenant_id, max_len=200)
    row = yield Q.insert_tenant.one(
        id=tenant_id, name=label, metadata=v.json_object("metadata", metadata)
    )
    if row is None:
        existing = yield Q.get_tenant.one(id=tenant_id)
        # A repeat after a lost COMMIT finds the tenant it made (the same name): returned.
        made = after_unknown_commit() and existing is not None and existing["name"] == label
        if not (exist_ok or made) or existing is None:
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


# What the purge function names when it has deleted the tenant itself.
TENANTS_TABLE = "agentledger.tenants"


@operation(idempotent=True)
def purge_batch(id: str, *, batch_size: int = PURGE_BATCH) -> Gen[tuple[str, int]]:
    """Delete up to ``batch_size`` of an archived tenant's rows from one table: that table
    and the count, or (TENANTS_TABLE, 1) when it held none and the tenant itself is gone.
    Repeatable: a retry deletes the next batch."""
    row = yield Q.purge_tenant.one(
        id=check_tenant_id(id),
        batch=v.integer("batch_size", batch_size, low=1, high=MAX_PURGE_BATCH),
    )
    return row["table_name"], row["deleted"]


@operation(writes=False, standby=False)
def rows(id: str) -> Gen[dict[str, int]]:
    """How many rows the tenant holds per table (schema-qualified), tables holding none left
    out: what a purge would delete."""
    found_rows = yield Q.tenant_rows.all(id=check_tenant_id(id))
    return {r["table_name"]: r["row_count"] for r in found_rows if r["row_count"]}


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
    rows = yield Q.list_keys.all(include_revoked=v.flag("include_revoked", include_revoked))
    return [from_row(ApiKey, row) for row in rows]


@operation(idempotent=True)
def revoke_key(key_id: UUID | str) -> Gen[ApiKey]:
    row = yield Q.revoke_key.one(id=v.uuid("key_id", key_id))
    return found(ApiKey, row, f"API key {key_id}", field="key_id")


@operation(idempotent=True)
def authenticate(secret: str) -> Gen[KeyIdentity | None]:
    """Who ``secret`` belongs to, or None when it is unknown or revoked."""
    if not _plausible(secret, KEY_PREFIX):
        return None
    row = yield Q.authenticate_key.one(hash=hash_key(secret))
    return None if row is None else from_row(KeyIdentity, row)


def _plausible(secret: object, prefix: str = "") -> TypeGuard[str]:
    """Whether ``secret`` could be a key or token at all (else it is unknown, unasked)."""
    return isinstance(secret, str) and secret.startswith(prefix) and 0 < len(secret) <= 200


def _sign_in(token: str, row: dict[str, Any]) -> SignIn:
    identity = from_row(KeyIdentity, row)
    return SignIn(token=token, identity=identity, csrf=row["csrf"], expires_at=row["expires_at"])


def _token_parts(token: object) -> dict[str, Any] | None:
    """A sign-in token's tenant and the hash of its random part, as the statements take
    them; None for a string that cannot be a token."""
    if not _plausible(token):
        return None
    tenant, _, random = token.partition(SEPARATOR)
    if not TENANT_ID.fullmatch(tenant) or len(random) < 32:
        return None
    return {"tenant": tenant, "token_hash": hash_key(random)}


@operation(idempotent=True)
def sign_in(
    secret: str, token: str, csrf: str, *, seconds: float = SIGN_IN_SECONDS
) -> Gen[SignIn | None]:
    """Open a console sign-in with a live key, for ``seconds``; None when the key is unknown
    or revoked. ``token`` and ``csrf`` are fresh random secrets the caller made (the
    façade does), so that a retry renews the same sign-in; the sign-in's own token is the
    key's tenant and ``token``, so that each tenant's sign-ins are found among its own."""
    seconds = v.number("seconds", seconds, low=1, high=MAX_SIGN_IN_SECONDS)
    for field, value in (("token", token), ("csrf", csrf)):
        if not _plausible(value) or SEPARATOR in value or len(value) < 32:
            raise InvalidInput(
                f"{field} must be a random string of 32 to 200 characters", field=field
            )
    if not _plausible(secret, KEY_PREFIX):
        return None
    row = yield Q.sign_in.one(
        key_hash=hash_key(secret), token_hash=hash_key(token), csrf=csrf, seconds=seconds
    )
    return None if row is None else _sign_in(row["tenant_id"] + SEPARATOR + token, row)


@operation(idempotent=True)
def signed_in(token: str) -> Gen[SignIn | None]:
    """The live console sign-in ``token`` stands for (not expired, not ended, its key not
    revoked), or None. A write, as ``authenticate`` is: it notes the key's use."""
    parts = _token_parts(token)
    if parts is None:
        return None
    row = yield Q.signed_in.one(**parts)
    return None if row is None else _sign_in(token, row)


@operation(idempotent=True)
def sign_out(token: str) -> Gen[bool]:
    """End the console sign-in ``token`` stands for; whether there was one."""
    parts = _token_parts(token)
    if parts is None:
        return False
    ended = yield Q.sign_out.scalar(**parts)
    return bool(ended)
