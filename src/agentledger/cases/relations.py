"""What a case is tied to (I/O-free): the memory entities it is about, and the cases it
blocks or is blocked by. Each change records an event on the case (on both cases for a
block), keyed by the link's own creation time, so linking again after an unlink is a new
event and a retry is not."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.cases import fields
from agentledger.cases.ops import (
    Q,
    case_from_row,
    case_uuid,
    event,
    held,
    not_found,
    record,
)
from agentledger.cases.records import BLOCKED, LINKED, UNBLOCKED, UNLINKED, Case, CaseLink
from agentledger.db.statements import Gen, Stmt, operation
from agentledger.db.types import Uuids
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.records import from_row

MAX_LINKED = 1000


def _role(value: object) -> str:
    return v.text("role", value, max_len=100, min_len=0)


@operation(idempotent=True)
def link_entity(
    case_id: UUID | str, entity_id: UUID | str, *, role: str = "", by: str | None = None
) -> Gen[bool]:
    """Link the case to a memory entity (in a ``role``, "" by default); False when it
    was linked so already. An entity of another tenant, or none, is NotFound naming
    ``entity_id``; a deleted entity's links are no longer listed. Records ``CaseLinked``."""
    found, entity = case_uuid(case_id), case_uuid(entity_id, "entity_id")
    name, actor = _role(role), fields.actor(by)
    created_at = yield from held(found)
    exists = yield Q.hold_entity.scalar(entity_id=entity)
    if exists is None:
        raise NotFound(f"memory entity {entity} does not exist", field="entity_id")
    linked_at = yield Q.add_link.scalar(case_id=found, entity_id=entity, role=name)
    if linked_at is None:
        return False
    yield _link_event(LINKED, found, created_at, entity, name, linked_at, actor)
    return True


@operation(idempotent=True)
def unlink_entity(
    case_id: UUID | str, entity_id: UUID | str, *, role: str = "", by: str | None = None
) -> Gen[bool]:
    """Remove a link; False when there was none. Records ``CaseUnlinked``."""
    found, entity = case_uuid(case_id), case_uuid(entity_id, "entity_id")
    name, actor = _role(role), fields.actor(by)
    created_at = yield from held(found)
    linked_at = yield Q.remove_link.scalar(case_id=found, entity_id=entity, role=name)
    if linked_at is None:
        return False
    yield _link_event(UNLINKED, found, created_at, entity, name, linked_at, actor)
    return True


def _link_event(
    type: str,
    case_id: UUID,
    created_at: dt.datetime,
    entity: UUID,
    role: str,
    linked_at: dt.datetime,
    by: str | None,
) -> Stmt:
    """The statement recording a link's change, keyed by the link's creation time."""
    payload = {"case_id": str(case_id), "entity_id": str(entity), "role": role}
    key = f"{entity}:{role}:{linked_at.isoformat()}"
    return record(event(case_id, created_at, type, key, payload, by=by))


def _of_case(case_id: UUID, rows_of: Stmt) -> Gen[list[Any]]:
    """The rows ``rows_of`` reads about a case; none is NotFound when the case does not
    exist (looked up only then)."""
    rows: list[Any] = yield rows_of
    if not rows:
        row = yield Q.get_case.one(id=case_id)
        if row is None:
            raise not_found(case_id)
    return rows


@operation(writes=False)
def linked_entities(case_id: UUID | str) -> Gen[list[CaseLink]]:
    """The memory entities the case is linked to, in the order they were linked."""
    found = case_uuid(case_id)
    rows = yield from _of_case(found, Q.case_links.all(case_id=found))
    return [from_row(CaseLink, r) for r in rows]


@operation(writes=False)
def linked_to(entity_id: UUID | str, *, limit: int = 100) -> Gen[list[Case]]:
    """The cases linked to a memory entity, newest first."""
    rows = yield Q.linked_cases.all(
        entity_id=case_uuid(entity_id, "entity_id"),
        limit=v.integer("limit", limit, low=1, high=MAX_LINKED),
    )
    return [case_from_row(r) for r in rows]


def _pair(blocker: UUID | str, blocked: UUID | str) -> tuple[UUID, UUID]:
    a, b = case_uuid(blocker, "blocker"), case_uuid(blocked, "blocked")
    if a == b:
        raise InvalidInput(f"case {a} cannot block itself", field="blocked")
    return a, b


def _held_pair(a: UUID, b: UUID) -> Gen[dict[UUID, dt.datetime]]:
    """Both cases' creation times, their rows held against deletion."""
    rows = yield Q.hold_cases.all(ids=Uuids([a, b]))
    created = {r["id"]: r["created_at"] for r in rows}
    for case_id, field in ((a, "blocker"), (b, "blocked")):
        if case_id not in created:
            raise not_found(case_id, field)
    return created


@operation(idempotent=True)
def block(blocker: UUID | str, blocked: UUID | str, *, by: str | None = None) -> Gen[bool]:
    """Record that ``blocker`` blocks ``blocked``; False when it did already. A block that
    would close a cycle (``blocked`` already blocks ``blocker``, directly or through others)
    is a Conflict. Records ``CaseBlocked`` on both cases."""
    a, b = _pair(blocker, blocked)
    actor = fields.actor(by)
    yield Q.lock_blocks.none()
    created = yield from _held_pair(a, b)
    cycle = yield Q.block_would_cycle.scalar(blocker=a, blocked=b)
    if cycle:
        raise Conflict(
            f"case {b} already blocks case {a} (directly or through others): "
            "blocking it back would make a cycle",
            field="blocked",
        )
    since = yield Q.add_block.scalar(blocker=a, blocked=b)
    if since is None:
        return False
    yield from _record_pair(BLOCKED, a, b, created, f"{a}:{b}:{since.isoformat()}", actor)
    return True


@operation(idempotent=True)
def unblock(blocker: UUID | str, blocked: UUID | str, *, by: str | None = None) -> Gen[bool]:
    """Remove a block; False when there was none. Records ``CaseUnblocked`` on both."""
    a, b = _pair(blocker, blocked)
    actor = fields.actor(by)
    created = yield from _held_pair(a, b)
    since = yield Q.remove_block.scalar(blocker=a, blocked=b)
    if since is None:
        return False
    yield from _record_pair(UNBLOCKED, a, b, created, f"{a}:{b}:{since.isoformat()}", actor)
    return True


def _record_pair(
    type: str,
    a: UUID,
    b: UUID,
    created: dict[UUID, dt.datetime],
    key: str,
    by: str | None,
) -> Gen[None]:
    payload = {"blocker": str(a), "blocked": str(b)}
    yield record(
        event(a, created[a], type, key, {"case_id": str(a), **payload}, by=by),
        event(b, created[b], type, key, {"case_id": str(b), **payload}, by=by),
    )


@operation(writes=False)
def blocking(case_id: UUID | str) -> Gen[list[Case]]:
    """The cases this case blocks, oldest first."""
    found = case_uuid(case_id)
    rows = yield from _of_case(found, Q.blocking.all(id=found))
    return [case_from_row(r) for r in rows]


@operation(writes=False)
def blocked_by(case_id: UUID | str) -> Gen[list[Case]]:
    """The cases that block this case, oldest first."""
    found = case_uuid(case_id)
    rows = yield from _of_case(found, Q.blocked_by.all(id=found))
    return [case_from_row(r) for r in rows]
