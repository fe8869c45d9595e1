"""Alert operations: raise (with dedup), acknowledge, resolve, list."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger import keyset, validation as v
from agentledger.alerts.records import ALERT_LIFECYCLE, TIERS, Alert
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput
from agentledger.ids import new_id
from agentledger.keyset import ListPosition
from agentledger.records import found, from_row

Q = Queries.beside(__file__)
MAX_PAGE = 1000


def tier_number(value: object) -> int:
    """1, 2 or 3, or the names urgent, important, info."""
    if isinstance(value, str) and value in TIERS:
        return TIERS[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in TIERS.values():
        return value
    raise InvalidInput(
        f"tier is {value!r}; expected 1 (urgent), 2 (important) or 3 (info)", field="tier"
    )


@operation(idempotent=True, spoolable=True)
def raise_(
    tier: int | str,
    title: str,
    *,
    body: str = "",
    action_required: bool = False,
    run_id: UUID | str | None = None,
    entity_ref: str | None = None,
    case_ref: str | None = None,
    dedup_key: str | None = None,
    id: UUID | str | None = None,
    at: datetime | None = None,
) -> Gen[Alert]:
    """A pending alert (tier 1 urgent, 2 important, 3 info) with id ``id``, or, when an open
    alert has the same ``dedup_key``, that alert with its ``occurrences`` bumped. A repeated
    ``id`` returns the alert it created or bumped, unchanged, so a retry or a spool replay
    counts once; the façade makes the id when none is given. New alerts are announced on
    ALERTS_CHANNEL when the transaction commits.

    ``at`` is when this occurrence happened, for imported history (anywhere in the past, at
    most ``validation.CLOCK_SKEW`` ahead; default now): a new alert's ``created_at`` and
    ``last_seen_at``; a bump moves ``created_at`` back or ``last_seen_at`` forward to it,
    so they span the occurrences in whatever order they are imported. ``recorded_at`` stays
    the time the ledger stored the alert."""
    request = new_id() if id is None else v.uuid("id", id)
    yield Q.lock_request.none(id=str(request))
    row = yield Q.raise_alert.one(
        id=request,
        tier=tier_number(tier),
        title=v.text("title", title, max_len=500),
        body=v.text("body", body, max_len=100_000, min_len=0),
        action_required=v.flag("action_required", action_required),
        run_id=None if run_id is None else v.uuid("run_id", run_id),
        entity_ref=v.optional_text("entity_ref", entity_ref, max_len=500),
        case_ref=v.optional_text("case_ref", case_ref, max_len=500),
        dedup_key=v.optional_text("dedup_key", dedup_key, max_len=500),
        at=v.aware_datetime("at", at, not_future=True),
    )
    return from_row(Alert, row)


@operation(idempotent=True)
def transition(
    alert_id: UUID | str, action: str, *, by: str | None = None, at: datetime | None = None
) -> Gen[Alert]:
    """Acknowledge or resolve; IllegalTransition (a Conflict) names the action and state.
    ``at`` dates an imported change (``acknowledged_at`` / ``resolved_at``; not before the
    alert was created or acknowledged, at most ``validation.CLOCK_SKEW`` ahead; default
    now)."""
    aid = v.uuid("alert_id", alert_id)
    moment = v.aware_datetime("at", at, not_future=True)

    def too_early(current: dict[str, Any]) -> None:
        """The guard refused ``moment``: name the time it may not precede."""
        if moment is None:
            return
        created, acknowledged = current["created_at"], current["acknowledged_at"]
        after, what = (
            (acknowledged, "acknowledged")
            if acknowledged is not None and acknowledged > created
            else (created, "created")
        )
        raise InvalidInput(
            f"at ({moment.isoformat()}) is before alert {aid} was {what} ({after.isoformat()})",
            field="at",
        )

    row = yield from ALERT_LIFECYCLE.move(
        action,
        Q.transition_alert.one(
            id=aid,
            **ALERT_LIFECYCLE.guard(action),
            by=v.optional_text("by", by, max_len=200),
            at=moment,
        ),
        Q.get_alert.one(id=aid),
        what=f"alert {alert_id}",
        field="alert_id",
        refused=too_early,
    )
    return from_row(Alert, row)


@operation(writes=False)
def get(alert_id: UUID | str) -> Gen[Alert]:
    row = yield Q.get_alert.one(id=v.uuid("alert_id", alert_id))
    return found(Alert, row, f"alert {alert_id}", field="alert_id")


@operation(writes=False)
def pending(tier: int | str | None = None, *, limit: int = 100) -> Gen[list[Alert]]:
    """Pending alerts, most urgent first."""
    rows = yield Q.pending_alerts.all(
        tier=None if tier is None else tier_number(tier),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(Alert, row) for row in rows]


@operation(writes=False)
def pending_counts() -> Gen[dict[int, int]]:
    """How many alerts are pending, per tier (1, 2 and 3, each present)."""
    rows = yield Q.pending_counts.all()
    counts = dict.fromkeys(TIERS.values(), 0)
    counts.update((row["tier"], row["pending"]) for row in rows)
    return counts


@operation(writes=False)
def raised(
    *,
    tier: int | str | None = None,
    after: Alert | ListPosition | None = None,
    limit: int = 100,
) -> Gen[list[Alert]]:
    """Pending alerts in the order they were stored (``recorded_at``, then id), for a follower
    that pages through them all: the next page goes on after this one's last alert (or
    its ListPosition of ``recorded_at`` and id)."""
    key = yield from keyset.position(after, field="after", record=Alert, at="recorded_at")
    rows = yield Q.raised_alerts.all(
        tier=None if tier is None else tier_number(tier),
        after_at=None if key is None else key[0],
        after_id=None if key is None else key[1],
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(Alert, row) for row in rows]


@operation(writes=False)
def list_(
    *,
    status: str | None = None,
    tier: int | str | None = None,
    before: Alert | ListPosition | UUID | str | None = None,
    limit: int = 100,
) -> Gen[list[Alert]]:
    """Newest first (by ``created_at``, then id, both descending). For the next page pass
    the last alert of this one (or its ListPosition) as ``before``: the page goes on after
    that position, even when the alert has since been deleted. An id as ``before`` reads
    the position from its alert: NotFound naming ``before`` when it is gone."""
    params = {
        "status": None if status is None else v.choice("status", status, ALERT_LIFECYCLE.states),
        "tier": None if tier is None else tier_number(tier),
        "limit": v.integer("limit", limit, low=1, high=MAX_PAGE),
    }
    key = yield from keyset.position(
        before, field="before", record=Alert, at="created_at", lookup=Q.get_alert
    )
    rows = yield Q.list_alerts.all(
        **params,
        before_at=None if key is None else key[0],
        before_id=None if key is None else key[1],
    )
    return [from_row(Alert, row) for row in rows]
