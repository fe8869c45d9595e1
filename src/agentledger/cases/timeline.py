"""A case's timeline (I/O-free): comments, events of the caller's own types, and reading
the events back in order. These events sit beside the case: they leave its fields and
version alone."""

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
    event_uuid,
    held,
    moment,
    not_found,
    record,
    stream,
)
from agentledger.cases.records import (
    ASSIGNED,
    COMMENTED,
    EVENT_TYPES,
    STATUS_CHANGED,
    UPDATED,
    Case,
    CaseEvent,
)
from agentledger.db.statements import Gen, operation
from agentledger.errors import InvalidInput
from agentledger.events import ops as events
from agentledger.events.records import ACTOR_TYPES, Appended, Event

MAX_TIMELINE = 10_000


def case_event(row: Event) -> CaseEvent:
    at = row.metadata.get("at") if isinstance(row.metadata, dict) else None
    return CaseEvent(
        event_id=row.event_id,
        case_id=UUID(row.stream.removeprefix("case:")),
        version=row.version,
        type=row.type,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        payload=row.payload,
        at=dt.datetime.fromisoformat(at) if isinstance(at, str) else row.created_at,
        recorded_at=row.created_at,
    )


def _actor_type(value: object, by: str | None) -> str:
    if value is None:
        return "agent" if by else "system"
    return v.choice("actor_type", value, ACTOR_TYPES)


@operation(idempotent=True)
def comment(
    case_id: UUID | str,
    text: str,
    *,
    by: str | None = None,
    actor_type: str | None = None,
    at: dt.datetime | None = None,
    id: UUID | str | None = None,
) -> Gen[CaseEvent]:
    """Add a comment to the case's timeline (``CaseCommented``); the comment's ``id`` is
    its event id, so a retry adds it once."""
    found = case_uuid(case_id)
    body = v.text("text", text, max_len=fields.MAX_BODY)
    actor, when = fields.actor(by), moment(at)
    kind = _actor_type(actor_type, actor)
    comment_id = case_uuid(id, "id")
    created_at = yield from held(found)
    row = event(
        found,
        created_at,
        COMMENTED,
        "",
        {"case_id": str(found), "text": body},
        by=actor,
        actor_type=kind,
        at=when,
        event_id=comment_id,
    )
    result = yield record(row)
    appended = events.appended(result)[0]
    return CaseEvent(
        event_id=appended.event_id,
        case_id=found,
        version=appended.version,
        type=COMMENTED,
        actor_type=kind,
        actor_id=actor,
        payload=row["payload"],
        at=when or appended.created_at,
        recorded_at=appended.created_at,
    )


@operation(idempotent=True)
def append_event(
    case_id: UUID | str,
    type: str,
    data: dict[str, Any] | None = None,
    *,
    event_id: UUID | str | None = None,
    by: str | None = None,
    actor_type: str | None = None,
    at: dt.datetime | None = None,
) -> Gen[Appended]:
    """Append an event of the caller's own ``type`` (not one the module records) with
    ``data`` as its payload to the case's timeline. The same ``event_id`` again appends
    nothing and reports ``already_appended``; with other content it is a Conflict."""
    found = case_uuid(case_id)
    name = v.text("type", type, max_len=events.MAX_NAME, strip=True)
    if name in EVENT_TYPES:
        raise InvalidInput(f"{name} events are recorded by the cases module itself", field="type")
    payload = v.json_object("data", data)
    eid = case_uuid(event_id, "event_id")
    actor, when = fields.actor(by), moment(at)
    kind = _actor_type(actor_type, actor)
    created_at = yield from held(found)
    row = event(
        found, created_at, name, "", payload, by=actor, actor_type=kind, at=when, event_id=eid
    )
    result = yield record(row)
    return events.appended(result)[0]


@operation(writes=False)
def timeline(case_id: UUID | str, *, after: int = 0, limit: int = 1000) -> Gen[list[CaseEvent]]:
    """The case's events in order, after its event number ``after`` (0: from the first).
    A deleted case's timeline stays readable."""
    found = case_uuid(case_id)
    start = v.integer("after", after, low=0, high=2**62 - 1) + 1  # read_stream's bound
    count = v.integer("limit", limit, low=1, high=MAX_TIMELINE)
    rows = yield from events.read_stream(stream(found), from_version=start, limit=count).start()
    if not rows:
        row = yield Q.get_case.one(id=found)
        if row is None and start == 1:
            raise not_found(case_id)
    return [case_event(r) for r in rows]


@operation(writes=False)
def detail(case_id: UUID | str, *, limit: int = 1000) -> Gen[tuple[Case, list[CaseEvent]]]:
    """The case and its first ``limit`` events, as one read: the timeline stops before the
    first change made after the case was read, so it holds exactly the changes that make
    the case's ``version`` (and the comments and events appended before the next one).
    NotFound when there is no such case."""
    found = case_uuid(case_id)
    count = v.integer("limit", limit, low=1, high=MAX_TIMELINE)
    row = yield Q.get_case.one(id=found)
    if row is None:
        raise not_found(case_id)
    case = case_from_row(row)
    # Read after the case, the stream holds at least its changes, perhaps later ones too:
    # a change's events are appended under the case's row lock, in version order, with ids
    # derived from the case, the type and the version they made (ops.event).
    rows = yield from events.read_stream(stream(found), from_version=1, limit=count).start()
    after = str(case.version + 1)
    later = {
        event_uuid(found, case.created_at, t, after) for t in (UPDATED, STATUS_CHANGED, ASSIGNED)
    }
    kept = []
    for r in rows:
        if r.event_id in later:
            break
        kept.append(case_event(r))
    return case, kept
