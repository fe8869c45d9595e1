"""The seed's records (its tables' columns) and their mapping from agentledger's cases,
catalog versions and tenants."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from agentledger import Case, CaseEvent, InvalidInput, LedgerError, Tenant

KIND = "exception"
SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "analyzing", "resolved", "escalated")
# open -> analyzing -> resolved or escalated; a person resolves an escalated exception.
TRANSITIONS = {"open": ["analyzing"], "analyzing": ["resolved", "escalated"],
               "escalated": ["resolved"]}  # fmt: skip
TERMINAL = ["resolved"]
TENANT_STATUSES = ("active", "suspended", "archived")
TOOL_TYPES = ("webhook", "REST", "email", "workflow")

# The seed's exception columns -> the case fields that hold them.
CASE_FIELDS = {
    "domain": "domain",
    "type": "type",
    "severity": "severity",
    "status": "status",
    "source_system": "source",
    "entity": "entity",
    "amount": "amount",
    "sla_deadline": "sla_deadline",
    "owner": "owner",
    "current_playbook_id": "playbook",
    "current_step": "playbook_step",
    "description": "body",
    "title": "title",
}
# agentledger's names for fields and filters -> the seed's, for errors naming the field.
SEED_NAMES = {
    **{case: seed for seed, case in CASE_FIELDS.items()},
    "ref": "exception_id",
    "created_after": "created_from",
    "created_before": "created_to",
    "at": "created_at",
    "data": "payload",
    "by": "actor_id",
}


@contextmanager
def seed_fields(**renamed: str) -> Iterator[None]:
    """Re-raise agentledger's errors naming the seed's field instead of its own (and
    ``renamed``'s fields as the call names them)."""
    try:
        yield
    except LedgerError as exc:
        name = {**SEED_NAMES, **renamed}.get(exc.field or "", exc.field)
        if name == exc.field:
            raise
        raise type(exc)(exc.message, field=name, **exc.detail) from exc


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionRecord:
    """A row of the seed's ``exception`` table (plus ``description`` and ``version``)."""

    exception_id: str
    tenant_id: str
    domain: str | None
    type: str | None
    severity: str | None
    status: str
    source_system: str | None
    entity: str | None
    amount: Decimal | None
    sla_deadline: datetime | None
    owner: str | None
    current_playbook_id: str | None
    current_step: int | None
    title: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, tenant_id: str, case: Case) -> ExceptionRecord:
        return cls(
            exception_id=case.ref or str(case.id),
            tenant_id=tenant_id,
            domain=case.domain,
            type=case.type,
            severity=case.severity,
            status=case.status,
            source_system=case.source,
            entity=case.entity,
            amount=case.amount,
            sla_deadline=case.sla_deadline,
            owner=case.owner,
            current_playbook_id=case.playbook,
            current_step=case.playbook_step,
            title=case.title,
            description=case.body,
            version=case.version,
            created_at=case.created_at,
            updated_at=case.updated_at,
            resolved_at=case.resolved_at,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionPage:
    """One page of ``list_exceptions``; ``next_cursor`` (None: the last) fetches the next."""

    items: list[ExceptionRecord]
    next_cursor: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionEvent:
    """A row of the seed's ``exception_event`` log: the seed's agent events and the
    lifecycle events agentledger records itself (CaseCreated, CaseStatusChanged...)."""

    event_id: str
    exception_id: str
    tenant_id: str
    event_type: str
    actor_type: str
    actor_id: str | None
    payload: dict[str, Any]
    sequence: int
    created_at: datetime

    @classmethod
    def of(cls, tenant_id: str, exception_id: str, event: CaseEvent) -> ExceptionEvent:
        return cls(
            event_id=str(event.event_id),
            exception_id=exception_id,
            tenant_id=tenant_id,
            event_type=event.type,
            actor_type=event.actor_type,
            actor_id=event.actor_id,
            payload=event.payload,
            sequence=event.version,
            created_at=event.at,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantRecord:
    """A row of the seed's ``tenant`` table."""

    tenant_id: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantRecord:
        return cls(
            tenant_id=tenant.id,
            name=tenant.name,
            status=tenant.status,
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PackVersion:
    """A row of ``domain_pack_version`` (``domain`` set, ``tenant_id`` None) or of
    ``tenant_policy_pack_version`` (``tenant_id`` set)."""

    domain: str | None
    tenant_id: str | None
    version: int
    pack_json: Any
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaybookStep:
    """A row of ``playbook_step``; ``step_id`` is ``<playbook_id>:<step_order>``."""

    step_id: str
    playbook_id: str
    step_order: int
    name: str
    action_type: str
    params: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Playbook:
    """A row of ``playbook`` with its ordered steps, at one version."""

    playbook_id: str
    tenant_id: str
    name: str
    version: int
    conditions: dict[str, Any]
    steps: list[PlaybookStep]
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolDefinition:
    """A row of ``tool_definition``: a tenant's own tool, or a global one (``tenant_id``
    None); ``tool_id`` is its name, ``version`` counts its changes."""

    tool_id: str
    name: str
    tenant_id: str | None
    type: str
    config: dict[str, Any]
    version: int
    created_at: datetime


def require_mapping(field: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be a JSON object", field=field)
    return value
