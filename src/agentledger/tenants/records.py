"""Tenant and API-key records returned to callers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from agentledger.lifecycle import Lifecycle

TENANT_LIFECYCLE = Lifecycle(
    "tenant",
    {
        "active": {"suspend": "suspended", "archive": "archived"},
        "suspended": {"activate": "active", "archive": "archived"},
        "archived": {"activate": "active"},
    },
)
KEY_ROLES = ("admin", "writer", "reader")
# Rows a purge deletes per transaction by default (a batch of events takes tens of ms).
PURGE_BATCH = 10_000
MAX_PURGE_BATCH = 100_000
# TENANT_LIFECYCLE's states, as a type for the API schema (a test holds them equal).
TenantStatus = Literal["active", "suspended", "archived"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Tenant:
    id: str
    name: str
    status: TenantStatus
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class PurgeResult:
    """What a purge deleted: rows per table (schema-qualified), in the transactions of
    ``batches`` calls; the tenant itself is gone."""

    tenant_id: str
    deleted: dict[str, int]
    batches: int

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKey:
    id: UUID
    tenant_id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CreatedKey:
    """A new key; ``secret`` is shown this once and only its hash is stored."""

    key: ApiKey
    secret: str


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyIdentity:
    """Who a presented key belongs to."""

    tenant_id: str
    key_id: UUID
    role: str
    tenant_status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SignIn:
    """A console sign-in, shared by every process serving the console: ``token`` is what the
    browser's cookie holds (only its hash is stored), ``csrf`` what its state-changing
    requests must carry. It ends at ``expires_at``, at sign-out, or when its key is revoked."""

    token: str
    identity: KeyIdentity
    csrf: str
    expires_at: datetime
