"""The seed's event model: its event types and the ``EventEnvelope`` checked before an
event is appended to an exception's log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentledger import InvalidInput

# The agent events of the seed (§6.2), then the LLM-specific ones.
EVENT_TYPES = (
    "ExceptionCreated",
    "ExceptionNormalized",
    "TriageCompleted",
    "PolicyEvaluated",
    "ResolutionSuggested",
    "ResolutionApproved",
    "FeedbackCaptured",
    "LLMDecisionProposed",
    "CopilotQuestionAsked",
    "CopilotAnswerGiven",
)
ACTOR_TYPES = ("agent", "user", "system")
# What each type's payload must carry, so a consumer (the UI, Co-Pilot, a Phase 9 stream)
# can rely on it; other keys are free.
REQUIRED_PAYLOAD: dict[str, tuple[str, ...]] = {
    "TriageCompleted": ("severity",),
    "PolicyEvaluated": ("decision",),
    "ResolutionSuggested": ("suggestion",),
    "ResolutionApproved": ("approved_by",),
    "FeedbackCaptured": ("feedback",),
    "LLMDecisionProposed": ("decision", "reasoning"),
    "CopilotQuestionAsked": ("question",),
    "CopilotAnswerGiven": ("answer",),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class EventEnvelope:
    """One event for an exception's log, validated when made: a known ``event_type``, an
    ``actor_type`` of agent / user / system, a UUID ``event_id`` (made here when not given,
    so that a retry of the same envelope appends once) and a payload with the keys its
    type requires. ``created_at`` fixes the event's time (imported history, tests): a
    zoned ``datetime``, anything else (ISO text too) is InvalidInput naming ``created_at``."""

    tenant_id: str
    exception_id: str
    event_type: str
    actor_type: str = "system"
    actor_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("tenant_id", "exception_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"{name} is required", field=name)
        if self.event_type not in EVENT_TYPES:
            raise InvalidInput(
                f"event_type {self.event_type!r} is not one of {', '.join(EVENT_TYPES)}",
                field="event_type",
            )
        if self.actor_type not in ACTOR_TYPES:
            raise InvalidInput(
                f"actor_type {self.actor_type!r} is not one of {', '.join(ACTOR_TYPES)}",
                field="actor_type",
            )
        try:
            canonical = str(uuid.UUID(str(self.event_id)))
        except ValueError:
            message = f"event_id {self.event_id!r} is not a UUID"
            raise InvalidInput(message, field="event_id") from None
        object.__setattr__(self, "event_id", canonical)
        if not isinstance(self.payload, dict):
            raise InvalidInput("payload must be a JSON object", field="payload")
        missing = [k for k in REQUIRED_PAYLOAD.get(self.event_type, ()) if k not in self.payload]
        if missing:
            raise InvalidInput(
                f"a {self.event_type} payload needs {', '.join(missing)}",
                field=f"payload.{missing[0]}",
            )
        if self.created_at is not None and not isinstance(self.created_at, datetime):
            raise InvalidInput("created_at must be a datetime", field="created_at")
        if self.created_at is not None and self.created_at.tzinfo is None:
            raise InvalidInput("created_at needs a time zone", field="created_at")
