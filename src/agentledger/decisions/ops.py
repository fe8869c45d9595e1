"""Decision operations: record, feedback (once), read, acceptance statistics.

Each decision and each feedback appends an event to the stream ``decision:<id>`` in the
same transaction, with an event id derived from the decision id, so retries never add a
second event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger import keyset, validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.decisions.records import (
    PERIODS,
    STATS_KEYS,
    AcceptanceStat,
    Decision,
)
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.events.ops import append_statement, event_time
from agentledger.ids import new_id
from agentledger.keyset import ListPosition
from agentledger.records import found, from_row

Q = Queries.beside(__file__)
MAX_PAGE = 1000
RECORDED = "DecisionRecorded"
FEEDBACK = "FeedbackRecorded"


def _event(
    decision: Decision,
    type: str,
    payload: dict[str, Any],
    actor: str | None,
    at: datetime | None,
) -> dict[str, Any]:
    """The event of one change; a change dated by ``at`` dates its event alike."""
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid5(decision.id, type)),
        "stream": f"decision:{decision.id}",
        "type": type,
        "actor_type": "user" if type == FEEDBACK else ("agent" if actor else "system"),
        "actor_id": actor,
        "payload": payload,
        "metadata": {},
    }
    if at is not None:
        event["at"] = event_time(at)
    return event


@operation(idempotent=True, spoolable=True)
def record(
    decision: str,
    *,
    decision_type: str,
    reasoning: str = "",
    confidence: float | None = None,
    data: dict[str, Any] | None = None,
    agent: str | None = None,
    run_id: UUID | str | None = None,
    id: UUID | str | None = None,
    at: datetime | None = None,
) -> Gen[Decision]:
    """Record a decision (confidence 0..1) and its DecisionRecorded event. A repeated ``id``
    returns the decision already recorded (Conflict when that one says something else); the
    façade makes the id when none is given, so a retry or a spool replay repeats the same
    decision. ``at`` dates an imported decision, and its event (``created_at``; anywhere in
    the past, at most ``validation.CLOCK_SKEW`` ahead; default now)."""
    decision_id = new_id() if id is None else v.uuid("id", id)
    text = v.text("decision", decision, max_len=10_000)
    kind = v.text("decision_type", decision_type, max_len=100)
    moment = v.aware_datetime("at", at, not_future=True)
    row = yield Q.insert_decision.one(
        id=decision_id,
        decision=text,
        reasoning=v.text("reasoning", reasoning, max_len=100_000, min_len=0),
        confidence=None
        if confidence is None
        else v.number("confidence", confidence, low=0, high=1),
        decision_type=kind,
        data=v.json_object("data", data),
        agent=v.optional_text("agent", agent, max_len=200),
        run_id=None if run_id is None else v.uuid("run_id", run_id),
        at=moment,
    )
    if row is None:
        row = yield Q.get_decision.one(id=decision_id)
        if row is None or (row["decision"], row["decision_type"]) != (text, kind):
            raise Conflict(f"decision {decision_id} was already recorded otherwise", field="id")
        return from_row(Decision, row)
    recorded = from_row(Decision, row)
    payload = {
        "decision": recorded.decision,
        "decision_type": recorded.decision_type,
        "confidence": recorded.confidence,
        "agent": recorded.agent,
        "run_id": None if recorded.run_id is None else str(recorded.run_id),
    }
    yield append_statement([_event(recorded, RECORDED, payload, recorded.agent, moment)])
    return recorded


@operation(idempotent=True, spoolable=True)
def record_feedback(
    decision_id: UUID | str,
    accepted: bool,
    *,
    reason: str | None = None,
    by: str | None = None,
    at: datetime | None = None,
) -> Gen[Decision]:
    """Set the decision's feedback once, with a FeedbackRecorded event. Repeating the same
    feedback returns the decision (with the time stored first, whatever ``at`` the repeat
    gives); different feedback is a Conflict; NotFound when the decision does not exist.
    ``at`` dates imported feedback and its event (``feedback_at``; not before the decision
    was recorded, at most ``validation.CLOCK_SKEW`` ahead; default now)."""
    did = v.uuid("decision_id", decision_id)
    moment = v.aware_datetime("at", at, not_future=True)
    given = (
        v.flag("accepted", accepted),
        v.optional_text("reason", reason, max_len=10_000),
        v.optional_text("by", by, max_len=200),
    )
    row = yield Q.set_feedback.one(
        id=did, accepted=given[0], reason=given[1], by=given[2], at=moment
    )
    if row is None:
        current = yield Q.get_decision.one(id=did)
        if current is None:
            raise NotFound(f"decision {decision_id} does not exist", field="decision_id")
        if current["feedback_at"] is None and moment is not None:  # the guard refused it
            raise InvalidInput(
                f"at ({moment.isoformat()}) is before decision {did} was recorded "
                f"({current['created_at'].isoformat()})",
                field="at",
            )
        stored = (current["accepted"], current["feedback_reason"], current["feedback_by"])
        if stored != given:
            raise Conflict(
                f"decision {did} already has feedback (accepted={stored[0]}, "
                f"by={stored[2]!r}); feedback is set once",
                field="accepted",
            )
        return from_row(Decision, current)
    updated = from_row(Decision, row)
    payload = {"accepted": accepted, "reason": given[1], "by": given[2]}
    yield append_statement([_event(updated, FEEDBACK, payload, given[2], moment)])
    return updated


@operation(writes=False)
def get(decision_id: UUID | str) -> Gen[Decision]:
    row = yield Q.get_decision.one(id=v.uuid("decision_id", decision_id))
    return found(Decision, row, f"decision {decision_id}", field="decision_id")


@operation(writes=False)
def list_(
    *,
    decision_type: str | None = None,
    agent: str | None = None,
    run_id: UUID | str | None = None,
    awaiting_feedback: bool = False,
    before: Decision | ListPosition | UUID | str | None = None,
    limit: int = 100,
) -> Gen[list[Decision]]:
    """Newest first (by ``created_at``, then id, both descending). For the next page pass
    the last decision of this one (or its ListPosition) as ``before``: the page goes on after
    that position, even when the decision has since been deleted. An id as ``before`` reads
    the position from its decision: NotFound naming ``before`` when it is gone."""
    params = {
        "decision_type": v.optional_text("decision_type", decision_type, max_len=100),
        "agent": v.optional_text("agent", agent, max_len=200),
        "run_id": None if run_id is None else v.uuid("run_id", run_id),
        "awaiting_feedback": v.flag("awaiting_feedback", awaiting_feedback),
        "limit": v.integer("limit", limit, low=1, high=MAX_PAGE),
    }
    key = yield from keyset.position(
        before, field="before", record=Decision, at="created_at", lookup=Q.get_decision
    )
    rows = yield Q.list_decisions.all(
        **params,
        before_at=None if key is None else key[0],
        before_id=None if key is None else key[1],
    )
    return [from_row(Decision, row) for row in rows]


@operation(writes=False)
def acceptance_stats(
    *,
    by: Sequence[str] = ("decision_type",),
    period: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Gen[list[AcceptanceStat]]:
    """Acceptance per group: ``by`` any of decision_type / agent, ``period`` day / week /
    month (UTC) or None for all time."""
    keys = {v.choice("by", key, STATS_KEYS) for key in v.items("by", by, what="group keys")}
    rows = yield Q.acceptance_stats.all(
        by_type="decision_type" in keys,
        by_agent="agent" in keys,
        period=None if period is None else v.choice("period", period, PERIODS),
        since=v.aware_datetime("since", since),
        until=v.aware_datetime("until", until),
    )
    return [from_row(AcceptanceStat, row) for row in rows]
