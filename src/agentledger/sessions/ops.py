"""Session operations (I/O-free): create, read, list, summarise, transition, delete, purge.

Every change appends an event to the stream ``session:<id>`` in the same transaction, with
an event id derived from what it records, so a retry never adds a second event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import keyset, validation as v
from agentledger.db.statements import Gen, Queries, Stmt, operation
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.events.ops import append_statement
from agentledger.keyset import ListPosition
from agentledger.memory import languages
from agentledger.memory.records import Entity
from agentledger.records import from_row
from agentledger.sessions.records import (
    SESSION_LIFECYCLE,
    ArtifactInfo,
    ChunkInfo,
    Session,
    SessionSummary,
)

Q = Queries.beside(__file__)
MAX_PAGE = 1000
MAX_PURGE_BATCH = 10_000
CREATED = "SessionCreated"
STATUS_CHANGED = "SessionStatusChanged"
DELETED = "SessionDeleted"


def stream(session_id: UUID) -> str:
    """The event stream of one session."""
    return f"session:{session_id}"


def event(
    session_id: UUID, type: str, key: str, payload: dict[str, Any], actor: str | None = None
) -> Stmt:
    """The statement appending one session event; ``key`` makes its id repeatable."""
    return append_statement(
        [
            {
                "event_id": str(uuid.uuid5(session_id, f"{type}:{key}")),
                "stream": stream(session_id),
                "type": type,
                "actor_type": "agent" if actor else "system",
                "actor_id": actor,
                "payload": {"session_id": str(session_id), **payload},
                "metadata": {},
            }
        ]
    )


def session_uuid(value: object, field: str = "session_id") -> UUID:
    return v.uuid(field, value)


def not_found(session_id: object, field: str = "session_id") -> NotFound:
    return NotFound(f"session {session_id} does not exist", field=field)


def record(row: Mapping[str, Any]) -> Session:
    """A session row as the record (its ``text_config`` is the ``language``)."""
    return from_row(Session, {**row, "language": row["text_config"]})


@operation(idempotent=True)
def create(
    title: str,
    *,
    participants: Sequence[str] | None = None,
    summary: str = "",
    metadata: dict[str, Any] | None = None,
    language: str | None = None,
    id: UUID | str | None = None,
) -> Gen[Session]:
    """Start an active session. A repeated ``id`` returns the stored session (Conflict when
    it has another title), so a retry is safe. ``language``: a text-search configuration of
    the server ("german", ...) its chunks and artifacts are indexed and searched in (None:
    the tenant's; InvalidInput naming ``language`` and listing the server's when unknown)."""
    session_id = session_uuid(id, "id")
    name = v.text("title", title, max_len=500, strip=True)
    fields = {
        "participants": v.tags("participants", participants),
        "summary": v.text("summary", summary, max_len=100_000, min_len=0),
        "metadata": v.json_object("metadata", metadata),
    }
    config = None if language is None else (yield from languages.checked(language))
    row = yield Q.create_session.one(id=session_id, title=name, language=config, **fields)
    if row is None:
        row = yield Q.get_session.one(id=session_id)
        if row is None or row["title"] != name:
            raise Conflict(f"session {session_id} already exists with another title", field="id")
        return record(row)
    created = record(row)
    # Keyed by its creation: a session deleted and made again under its id logs both.
    born = created.created_at.isoformat()
    yield event(session_id, CREATED, born, {"title": name, "participants": created.participants})
    return created


@operation(writes=False)
def get(session_id: UUID | str) -> Gen[Session]:
    row = yield Q.get_session.one(id=session_uuid(session_id))
    if row is None:
        raise not_found(session_id)
    return record(row)


@operation(writes=False)
def summary(session_id: UUID | str, *, chunks: int = 5, memories: int = 5) -> Gen[SessionSummary]:
    """The session, its latest ``chunks`` chunks, the latest version of each artifact and
    its ``memories`` latest memories (newest change first, archived ones too; 0 for none)."""
    found = session_uuid(session_id)
    row = yield Q.get_session.one(id=found)
    if row is None:
        raise not_found(session_id)
    recent = yield Q.recent_chunks.all(
        session_id=found, limit=v.integer("chunks", chunks, low=1, high=MAX_PAGE)
    )
    artifacts = yield Q.latest_artifacts.all(session_id=found)
    size = v.integer("memories", memories, low=0, high=MAX_PAGE)
    kept = (yield Q.session_memories.all(session_id=found, limit=size)) if size else []
    return SessionSummary(
        session=record(row),
        recent_chunks=[from_row(ChunkInfo, r) for r in recent],
        artifacts=[from_row(ArtifactInfo, r) for r in artifacts],
        memories=[from_row(Entity, r) for r in kept],
    )


@operation(writes=False)
def list_(
    *,
    status: str | None = None,
    participant: str | None = None,
    active_since: dt.datetime | None = None,
    active_until: dt.datetime | None = None,
    before: Session | ListPosition | tuple[dt.datetime, UUID | str] | None = None,
    limit: int = 100,
) -> Gen[list[Session]]:
    """Sessions by latest activity, newest first. ``before`` is the last session of the
    previous page, its ListPosition, or its (last_activity, id) pair."""
    if isinstance(before, tuple):
        if len(before) != 2:
            raise InvalidInput("before must be a (last_activity, id) pair", field="before")
        before = ListPosition(at=before[0], id=v.uuid("before", before[1]))
    key = yield from keyset.position(before, field="before", record=Session, at="last_activity")
    before_at, before_id = key or (None, None)
    rows = yield Q.list_sessions.all(
        status=None if status is None else v.choice("status", status, SESSION_LIFECYCLE.states),
        participant=v.optional_text("participant", participant, max_len=200),
        active_since=v.aware_datetime("active_since", active_since),
        active_until=v.aware_datetime("active_until", active_until),
        before_at=before_at,
        before_id=before_id,
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [record(row) for row in rows]


@operation(idempotent=True)
def update(
    session_id: UUID | str,
    *,
    title: str | None = None,
    participants: Sequence[str] | None = None,
    summary: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Gen[Session]:
    """Change what is given (None keeps the stored value); ``metadata`` replaces the stored
    object. Counts as activity."""
    row = yield Q.update_session.one(
        id=session_uuid(session_id),
        title=None if title is None else v.text("title", title, max_len=500, strip=True),
        participants=None if participants is None else v.tags("participants", participants),
        summary=None if summary is None else v.text("summary", summary, max_len=100_000, min_len=0),
        metadata=None if metadata is None else v.json_object("metadata", metadata),
    )
    if row is None:
        raise not_found(session_id)
    return record(row)


@operation(idempotent=True)
def transition(session_id: UUID | str, action: str, *, by: str | None = None) -> Gen[Session]:
    """Pause, resume, complete or archive; IllegalTransition names the action and state."""
    found = session_uuid(session_id)
    actor = v.optional_text("by", by, max_len=200)
    row = yield from SESSION_LIFECYCLE.move(
        action,
        Q.transition_session.one(id=found, **SESSION_LIFECYCLE.guard(action)),
        Q.get_session.one(id=found),
        what=f"session {session_id}",
        field="session_id",
    )
    moved = record(row)
    changed = moved.status_changed_at.isoformat() if moved.status_changed_at else ""
    payload = {"action": action, "status": moved.status}
    yield event(found, STATUS_CHANGED, f"{action}:{changed}", payload, actor)
    return moved


@operation(idempotent=True)
def delete(session_id: UUID | str, *, tasks: bool = False, memories: bool = False) -> Gen[bool]:
    """Delete a session with its chunks and artifacts, with ``tasks`` the tasks naming it
    too (else they keep its id as a reference), and with ``memories`` its memories (else
    they stay, in no session); False when it did not exist."""
    found = session_uuid(session_id)
    if memories:
        # The session row first, queued with the deletes in one round trip: memory writers
        # wait for this transaction (then find no session) instead of taking the row the
        # memories' count trigger needs; every memory committed before it is seen below.
        yield Q.lock_session_for_delete.none(id=found)
        # Then the memories: deleting the session detaches them (the foreign key).
        yield Q.delete_session_memories.none(session_id=found)
    born = yield Q.delete_session.scalar(id=found)
    if born is None:
        return False
    if tasks:
        yield Q.delete_session_tasks.scalar(session_id=str(found))
    yield event(found, DELETED, born.isoformat(), {})
    return True


@operation(idempotent=True)
def purge_batch(older_than_days: float, *, batch: int = 500) -> Gen[int]:
    """Delete up to ``batch`` completed or archived sessions idle for more than
    ``older_than_days`` days; returns how many."""
    days = v.number("older_than_days", older_than_days, low=0, high=365_000)
    count = yield Q.purge_sessions.rowcount(
        cutoff=dt.datetime.now(dt.UTC) - dt.timedelta(days=days),
        batch=v.integer("batch", batch, low=1, high=MAX_PURGE_BATCH),
    )
    return int(count)


@operation(writes=False)
def transitions() -> Gen[list[tuple[str, str, str]]]:
    """The moves the database allows, as (from, action, to)."""
    rows = yield Q.session_transitions.all()
    return [(r["from_status"], r["action"], r["to_status"]) for r in rows]
