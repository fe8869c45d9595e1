"""Event records: what callers append (NewEvent) and what the log gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

ACTOR_TYPES = ("agent", "user", "system")
# Every append notifies this channel with the tenant id as payload (a wake-up, not the truth).
EVENTS_CHANNEL = "agentledger_events"


@dataclass(frozen=True, kw_only=True, slots=True)
class NewEvent:
    """An event to append. ``event_id`` is the idempotency key (a random one when omitted:
    give your own to make retries safe). ``at`` is when it happened, for imported history
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
