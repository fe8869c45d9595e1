"""Case records: cases, their kinds and timelines, pages, links, similar cases, aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

SEVERITIES = ("low", "medium", "high", "critical")
# The orders a listing can take, each over a total key (see cases_list_v1): score highest
# first (no score last), created_at / updated_at newest first, severity most severe first
# (then newest), sla_deadline soonest first (no deadline last).
ORDERS = ("score", "created_at", "updated_at", "severity", "sla_deadline")
# The events the module records itself; a caller's own event types must differ.
CREATED = "CaseCreated"
UPDATED = "CaseUpdated"
STATUS_CHANGED = "CaseStatusChanged"
ASSIGNED = "CaseAssigned"
COMMENTED = "CaseCommented"
LINKED = "CaseLinked"
UNLINKED = "CaseUnlinked"
BLOCKED = "CaseBlocked"
UNBLOCKED = "CaseUnblocked"
DELETED = "CaseDeleted"
EVENT_TYPES = (
    CREATED,
    UPDATED,
    STATUS_CHANGED,
    ASSIGNED,
    COMMENTED,
    LINKED,
    UNLINKED,
    BLOCKED,
    UNBLOCKED,
    DELETED,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Case:
    """One case. ``version`` counts the changes to the case's own fields (1 when created);
    ``opened_at``, ``resolved_at`` and ``version`` are kept by the database: ``resolved_at``
    is set while the case is in a terminal status of its kind, so None means open."""

    id: UUID
    kind: str
    ref: str | None
    status: str
    title: str
    body: str
    type: str | None
    severity: str | None
    score: float | None
    confidence: float | None
    owner: str | None
    domain: str | None
    entity: str | None
    source: str | None
    amount: Decimal | None
    sla_deadline: datetime | None
    playbook: str | None
    playbook_step: int | None
    attrs: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    opened_at: datetime
    resolved_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseKind:
    """A tenant's kind of case and its lifecycle: the statuses in declared order, the one a
    new case starts in, those that close a case, and the moves allowed from each status."""

    kind: str
    statuses: list[str]
    initial: str
    terminal: list[str]
    transitions: dict[str, list[str]]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseEvent:
    """One event of a case's timeline (the stream ``case:<id>``), oldest first by
    ``version``. ``at`` is when it happened (the ``at=`` a caller gave for imported
    history, else when it was recorded); ``recorded_at`` is when it was appended."""

    event_id: UUID
    case_id: UUID
    version: int
    type: str
    actor_type: str
    actor_id: str | None
    payload: dict[str, Any]
    at: datetime
    recorded_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class CasePage:
    """One page of a listing; pass ``next_cursor`` back as ``cursor`` for the next page
    (None: this was the last one)."""

    items: list[Case]
    next_cursor: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class UpsertedCase:
    """What an upsert by ref did: ``created`` a new case, or changed the ``changed`` fields
    of the stored one (none: the same content was already stored)."""

    case: Case
    created: bool
    changed: list[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseLink:
    """A link from a case to a memory entity, with the entity's kind and name."""

    case_id: UUID
    entity_id: UUID
    role: str
    entity_kind: str
    entity_name: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SimilarCase:
    """A case like another: ranked by the same kind and entity, the same type, the same
    kind, then ``text_rank`` (words its title and body share with the other's title)."""

    case: Case
    same_kind: bool
    same_entity: bool
    same_type: bool
    text_rank: float


@dataclass(frozen=True, kw_only=True, slots=True)
class DurationStats:
    """Durations in seconds over ``count`` cases (None without any)."""

    count: int
    avg: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseAggregates:
    """The supervisor's view: counts by status, severity, kind and domain ("" for cases
    without one); open cases, those past their SLA deadline, and how long they have been
    open (at ``now``); and how long the cases resolved in the window
    [``since``, ``until``) took, from opening to resolution."""

    total: int
    open: int
    by_status: dict[str, int]
    by_severity: dict[str, int]
    by_kind: dict[str, int]
    by_domain: dict[str, int]
    sla_breached: int
    open_age: DurationStats
    resolution: DurationStats
    now: datetime
    since: datetime
    until: datetime
