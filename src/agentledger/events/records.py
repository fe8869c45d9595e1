"""Event records: what callers append (NewEvent) and what the log gives back."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from uuid import UUID

ACTOR_TYPES = ("agent", "user", "system")
# Every append notifies this channel with the tenant id as payload (a wake-up, not the truth).
EVENTS_CHANNEL = "agentledger_events"


@dataclass(frozen=True, kw_only=True, slots=True)
class NewEvent:
    """An event to append. ``event_id`` is the idempotency key: when omitted, each append
    call makes one, which the library's own retries of that call repeat; give your own to
    make your retries safe too. ``at`` is when it happened, for imported history
    (timezone-aware; in the past, or at most ``validation.CLOCK_SKEW`` ahead); it becomes
    ``created_at`` (default: the time of appending), never the event's position."""

    stream: str
    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    actor_type: str = "system"
    actor_id: str | None = None
    event_id: UUID | str | None = None
    at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Appended:
    """Where an appended event landed. ``already_appended`` is True when the id was stored
    before (by an earlier call): nothing new was written and the original place is given."""

    event_id: UUID
    stream: str
    version: int
    position: int
    created_at: datetime
    already_appended: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """A stored event."""

    event_id: UUID
    stream: str
    version: int
    position: int
    type: str
    actor_type: str
    actor_id: str | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime


class DecodedText(str):
    """A payload or metadata field whose JSON was a string, once decoded: a plain ``str`` in
    those fields is JSON text not decoded yet."""

    __slots__ = ()


class _DecodedOnRead:
    """An event's payload or metadata field that may hold its JSON text (a plain ``str``):
    decoded the first time it is read, then kept. A catch-up read hands out a thousand
    events of which a subscriber often reads a few payloads (or routes on the type alone);
    decoding each one up front was most of the read's time on the client. Equality,
    ``repr``, ``dataclasses.asdict`` and serialisers all read the field, so they see the
    value."""

    def __init__(self, slot: Any) -> None:
        self.slot = slot  # the dataclass's own slot, which keeps the value

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self.slot.__get__(obj, owner)
        if type(value) is str:
            value = json.loads(value)
            if type(value) is str:
                value = DecodedText(value)
            self.slot.__set__(obj, value)
        return value

    def __set__(self, obj: object, value: Any) -> None:
        self.slot.__set__(obj, value)


def _stored_event_builder() -> Callable[[Sequence[Any]], Event]:
    """:func:`stored_event`, over the slots' own setters (taken before payload and metadata
    are wrapped), held in its closure: a catch-up read builds a thousand events a call."""
    (
        set_event_id,
        set_stream,
        set_version,
        set_position,
        set_type,
        set_actor_type,
        set_actor_id,
        set_payload,
        set_metadata,
        set_created_at,
    ) = (Event.__dict__[f.name].__set__ for f in fields(Event))
    new = object.__new__

    def stored_event(row: Sequence[Any]) -> Event:
        """An event from a read's row: one leading column, then the event's fields in their
        order, payload and metadata as JSON text (decoded when first read).

        Fills the slots directly: a frozen dataclass's ``__init__`` costs more than the
        rest of a catch-up read's work per event."""
        event: Event = new(Event)
        set_event_id(event, row[1])
        set_stream(event, row[2])
        set_version(event, row[3])
        set_position(event, row[4])
        set_type(event, row[5])
        set_actor_type(event, row[6])
        set_actor_id(event, row[7])
        set_payload(event, row[8])
        set_metadata(event, row[9])
        set_created_at(event, row[10])
        return event

    return stored_event


stored_event = _stored_event_builder()
for _name in ("payload", "metadata"):
    setattr(Event, _name, _DecodedOnRead(Event.__dict__[_name]))
