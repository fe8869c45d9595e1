"""Event log operations: append (single and batch), read streams, read all, checkpoints."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, Stmt, operation
from agentledger.errors import InvalidInput, NotFound
from agentledger.events.records import ACTOR_TYPES, Appended, Event, NewEvent, stored_event
from agentledger.ids import new_id_text
from agentledger.records import found, from_row

Q = Queries.beside(__file__)
MAX_BATCH = 10_000
MAX_PAGE = 10_000
MAX_NAME = 200


def event_time(at: object, field: str = "at") -> str | None:
    """A fixed timestamp for an event (``validation.aware_datetime`` with ``not_future``: the
    rule every ``at=`` follows) as the UTC text an event object's ``at`` takes; None for
    none (the event is dated when it is appended)."""
    checked = v.aware_datetime(field, at, not_future=True)
    return None if checked is None else checked.astimezone(dt.UTC).isoformat()


def event_types(types: object) -> list[str] | None:
    """A filter on event types checked: None (every type) or a list of type names."""
    if types is None:
        return None
    listed = v.items("types", types, what="event types")
    return [v.text("types", t, max_len=MAX_NAME) for t in listed]


def event_json(
    event: NewEvent, field: str = "event", made: Iterator[str] | None = None
) -> dict[str, Any]:
    """One validated event as the JSON object ``append_statement`` takes. Without an id, it
    takes the next of ``made`` (see ``made_ids``), else a new one."""
    if not isinstance(event, NewEvent):
        raise InvalidInput(f"{field} must be a NewEvent, not {type(event).__name__}", field=field)
    if event.event_id is not None:
        event_id = str(v.uuid("event_id", event.event_id))
    else:
        event_id = (None if made is None else next(made, None)) or new_id_text()
    row: dict[str, Any] = {
        "event_id": event_id,
        "stream": v.name("stream", event.stream, max_len=MAX_NAME),
        "type": v.name("type", event.type, max_len=MAX_NAME),
        "actor_type": v.choice("actor_type", event.actor_type, ACTOR_TYPES),
        "actor_id": v.optional_text("actor_id", event.actor_id, max_len=MAX_NAME),
        # Empty objects (the common metadata) need no walk.
        "payload": v.json_object("payload", event.payload) if event.payload != {} else {},
        "metadata": (
            v.json_object("metadata", event.metadata, max_bytes=100_000)
            if event.metadata != {}
            else {}
        ),
    }
    if event.at is not None:  # only a dated event carries the key (see append_statement)
        row["at"] = event_time(event.at)
    return row


def append_statement(
    events: Sequence[dict[str, Any]],
    expected: Mapping[str, int] | None = None,
    *,
    dated: bool | None = None,
) -> Stmt:
    """The statement that appends already-validated events (for other modules' operations,
    so their rows and their events commit in one transaction). An event object may carry
    ``at`` (from :func:`event_time`): the event's time instead of now; its position is
    still the order of appending. ``dated``: whether some event has ``at``, when the caller
    knows (else it is looked up). One event goes by ``append_event`` (its fields as typed
    arguments: no JSON array to parse, an insert whose plan the server keeps); a batch by
    ``append_events``."""
    if len(events) == 1:
        (event,) = events
        return Q.append_event.all(
            event_id=event["event_id"],
            stream=event["stream"],
            type=event["type"],
            actor_type=event["actor_type"],
            actor_id=event["actor_id"],
            payload=json.dumps(event["payload"], separators=(",", ":")),
            metadata=json.dumps(event["metadata"], separators=(",", ":")),
            expected=None if expected is None else expected.get(event["stream"]),
            at=event.get("at"),
        )
    return Q.append_events.all(
        events=json.dumps(list(events), separators=(",", ":")),
        expected=None if expected is None else json.dumps(dict(expected)),
        # Read each event's ``at`` only when some event has one.
        dated=any("at" in e for e in events) if dated is None else dated,
    )


def appended(rows: list[dict[str, Any]]) -> list[Appended]:
    """An append statement's rows as records: one per event, in the events' order."""
    return [Appended(**row) for row in rows]


def made_ids(events: object) -> list[str]:
    """An id for each event of ``events`` that has none, in order: the façades make them
    once per call, before the operation, so that a retry of it repeats the same events."""
    if not isinstance(events, Sequence):
        return []  # ``append`` says what is wrong with it
    return [new_id_text() for e in events if isinstance(e, NewEvent) and e.event_id is None]


@operation(idempotent=True)
def append(
    events: Sequence[NewEvent],
    expected_versions: Mapping[str, int] | None = None,
    *,
    ids: Sequence[str] = (),
) -> Gen[list[Appended]]:
    """Append ``events`` atomically; one result per event, in order.

    Events without an ``event_id`` take the ``ids`` in turn (see ``made_ids``); past their
    end, ids are made here, and running the same operation again would append those
    events again.

    ``expected_versions`` maps a stream the batch appends to to the version it must be at
    before this batch (0: the stream is new); a mismatch raises VersionConflict and nothing
    is written. Events whose id is already stored come back with ``already_appended=True``
    and their original version, position and time; an id stored with another stream, type
    or payload is a Conflict (its actor and metadata are not compared: the stored ones
    stay).
    An event's ``at`` fixes its ``created_at`` (anywhere in the past, at most
    ``validation.CLOCK_SKEW`` ahead; default now); positions still follow the order of
    appending, so readers of the feed see a back-dated event as new.
    """
    if isinstance(events, NewEvent) or not isinstance(events, Sequence):
        raise InvalidInput("events must be a list of NewEvent", field="events")
    if not 1 <= len(events) <= MAX_BATCH:
        raise InvalidInput(
            f"events has {len(events)} items; append 1 to {MAX_BATCH} at a time", field="events"
        )
    made = iter(ids)
    rows = [event_json(e, f"events[{i}]", made) for i, e in enumerate(events)]
    if len({row["event_id"] for row in rows}) < len(rows):  # one pass; a walk only to name it
        seen: set[str] = set()
        for row in rows:
            if row["event_id"] in seen:
                raise InvalidInput(
                    f"event_id {row['event_id']} appears twice in one batch", field="event_id"
                )
            seen.add(row["event_id"])
    expected = None
    if expected_versions is not None:
        if not isinstance(expected_versions, Mapping):
            raise InvalidInput(
                "expected_versions must map streams to versions", field="expected_versions"
            )
        expected = {
            v.text("stream", s, max_len=MAX_NAME): v.integer(
                "expected_version", version, low=0, high=2**62
            )
            for s, version in expected_versions.items()
        }
        untouched = expected.keys() - {row["stream"] for row in rows}
        if untouched:
            raise InvalidInput(
                f"expected_versions names {min(untouched)!r}, a stream the batch does not "
                "append to: only a stream appended to is checked",
                field="expected_versions",
            )
    result = yield append_statement(rows, expected)
    return appended(result)


def one_statement(event: NewEvent, expected_version: int | None) -> Stmt:
    """The statement that appends one event."""
    row = event_json(event)
    expected = None
    if expected_version is not None:
        expected = {row["stream"]: v.integer("expected_version", expected_version, low=0)}
    return append_statement([row], expected, dated="at" in row)


@operation(idempotent=True, spoolable=True)
def append_fields(
    stream: str,
    type: str,
    payload: dict[str, Any] | None = None,
    *,
    event_id: UUID | str,
    actor_type: str = "system",
    actor_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> Gen[Appended]:
    """Append one event, from plain arguments with a required ``event_id``, so it can wait
    in the spool: a repeat of the id returns the stored event (``already_appended``). ``at``
    fixes the event's time (see ``append``)."""
    event = NewEvent(
        stream=stream,
        type=type,
        payload={} if payload is None else payload,
        metadata={} if metadata is None else metadata,
        actor_type=actor_type,
        actor_id=actor_id,
        event_id=v.uuid("event_id", event_id),
        at=at,
    )
    # Its one yield (no delegation) lets the driver commit it in one round trip.
    result = yield one_statement(event, expected_version)
    return appended(result)[0]


@operation(writes=False)
def get(event_id: UUID | str) -> Gen[Event]:
    row = yield Q.get_event.one(event_id=v.uuid("event_id", event_id))
    return found(Event, row, f"event {event_id}", field="event_id")


@operation(writes=False)
def exists(event_id: UUID | str) -> Gen[bool]:
    row = yield Q.get_event.one(event_id=v.uuid("event_id", event_id))
    return row is not None


# An expected version for the next append is chosen from it: the primary's, never a lagging one.
@operation(writes=False, standby=False)
def stream_version(stream: str) -> Gen[int]:
    version = yield Q.stream_version.scalar(stream=v.text("stream", stream, max_len=MAX_NAME))
    return int(version)


@operation(writes=False)
def read_stream(
    stream: str, *, from_version: int | None = None, backwards: bool = False, limit: int = 100
) -> Gen[list[Event]]:
    """Forwards from ``from_version`` (default 1), or backwards from it (default: the end)."""
    params = {
        "stream": v.text("stream", stream, max_len=MAX_NAME),
        "limit": v.integer("limit", limit, low=1, high=MAX_PAGE),
    }
    if backwards:
        top = 2**62 if from_version is None else from_version
        version = v.integer("from_version", top, low=0, high=2**62)
        rows = yield Q.read_stream_backwards.all(version=version, **params)
    else:
        start = 1 if from_version is None else from_version
        version = v.integer("from_version", start, low=0, high=2**62)
        rows = yield Q.read_stream_forwards.all(version=version, **params)
    return [from_row(Event, row) for row in rows]


# Commit-safe order looks at the appending transactions' locks, which only the primary has.
@operation(writes=False, standby=False)
def read_all(
    after: int = 0, *, types: Sequence[str] | None = None, limit: int = 1000
) -> Gen[list[Event]]:
    """The tenant's events after the event at position ``after`` (0: from the start).

    Events come in commit-safe order: feeding the last returned position back in reads
    every committed event exactly once, however writers' commits interleave. To keep that
    promise an event is held back while an older transaction that appended to this tenant
    is still open; other tenants' transactions, and transactions that appended nothing,
    never hold it back. Within one stream, events keep their version order when each append
    runs in its own transaction. See docs/architecture.md, "The event feed".
    """
    position = v.integer("after", after, low=0)
    kinds = event_types(types)
    rows = yield Q.read_all.tuples(
        after=position, types=kinds, limit=v.integer("limit", limit, low=1, high=MAX_PAGE)
    )
    if not rows or not rows[0][0]:
        raise NotFound(f"position {position} is not an event of this tenant", field="after")
    # After cursor_found, the event's fields in order (NULL: nothing readable).
    return [stored_event(row) for row in rows if row[1] is not None]


@operation(writes=False)
def recent(*, types: Sequence[str] | None = None, limit: int = 50) -> Gen[list[Event]]:
    """The latest events, newest first: for a person watching the log, not a subscriber."""
    kinds = event_types(types)
    rows = yield Q.recent.all(types=kinds, limit=v.integer("limit", limit, low=1, high=MAX_PAGE))
    return [from_row(Event, row) for row in rows]


@operation(idempotent=True)
def save_checkpoint(subscriber: str, position: int) -> Gen[None]:
    """Remember ``subscriber``'s position (0, or an event's of this tenant: anything else is
    InvalidInput, as a follower could never resume from it); run it in your own transaction
    to commit your writes and the checkpoint together."""
    at = v.integer("position", position, low=0)
    saved = yield Q.save_checkpoint.scalar(
        subscriber=v.text("subscriber", subscriber, max_len=MAX_NAME), position=at
    )
    if saved is None:
        raise InvalidInput(
            f"position {at} is not an event of this tenant: a checkpoint is 0 or an "
            "event's position",
            field="position",
        )


# A subscriber resumes from it: a lagging copy would deliver events again.
@operation(writes=False, standby=False)
def checkpoint(subscriber: str) -> Gen[int]:
    """``subscriber``'s saved position, 0 when it has none."""
    position = yield Q.get_checkpoint.scalar(
        subscriber=v.text("subscriber", subscriber, max_len=MAX_NAME)
    )
    return 0 if position is None else int(position)
