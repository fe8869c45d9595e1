"""Reading many cases (I/O-free): filtered listings in keyset pages, the Co-Pilot lookups
(SLA breaches, by entity, similar cases) and the supervisor's aggregates.

A listing's cursor is opaque: it carries the order, a digest of the filters and the last
row's sort key, so that walking the pages returns each matching case once however many
cases are added meanwhile, and a cursor given to another listing is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.cases import fields
from agentledger.cases.ops import Q, case_from_row, case_uuid
from agentledger.cases.records import (
    ORDERS,
    SEVERITIES,
    Case,
    CaseAggregates,
    CasePage,
    DurationStats,
    SimilarCase,
)
from agentledger.db.statements import Gen, operation
from agentledger.errors import InvalidInput
from agentledger.memory.filters import Where, jsonpath

MAX_PAGE = 1000
DEFAULT_WINDOW = dt.timedelta(days=30)
_RANK: dict[str | None, int] = {None: 0, **{s: i + 1 for i, s in enumerate(SEVERITIES)}}
_NO_DEADLINE = "infinity"
BOUNDS = (
    "created_after",
    "created_before",
    "opened_after",
    "opened_before",
    "resolved_after",
    "resolved_before",
)


def _one_or_many(field: str, value: object) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence | set | frozenset) or not items:
        raise InvalidInput(f"{field} must be one value or a non-empty list", field=field)
    if field == "severity":
        return sorted({fields.check(field, item) for item in items})
    return sorted({fields.status_name(item, field) for item in items})


def _moment(field: str, value: object) -> dt.datetime | None:
    return v.aware_datetime(field, value)


def filters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The filter parameters of a listing's arguments ``values``, checked (each naming
    its field)."""
    is_open, kind, attrs, where = values["open"], values["kind"], values["attrs"], values["where"]
    if is_open is not None and not isinstance(is_open, bool):
        raise InvalidInput("open must be true, false or absent", field="open")
    return {
        "kind": None if kind is None else fields.kind_name(kind),
        "statuses": _one_or_many("status", values["status"]),
        "severities": _one_or_many("severity", values["severity"]),
        **{
            k: None if values[k] is None else fields.check(k, values[k])
            for k in ("domain", "owner", "entity", "source", "type")
        },
        "open": is_open,
        **{k: _moment(k, values[k]) for k in BOUNDS},
        "attrs": v.json_object("attrs", attrs, max_bytes=10_000) if attrs else None,
        "where": jsonpath(where) if where else None,
    }


def _digest(order: str, params: Mapping[str, Any]) -> str:
    text = json.dumps([order, params], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(order: str, digest: str, last: Case, breached_at: dt.datetime | None) -> str:
    """The cursor after ``last``: its sort key in ``order``, for this listing only."""
    num: float | None = None
    at: str | None = None
    if order == "score":
        num = -1.0 if last.score is None else last.score
    elif order == "severity":
        num, at = float(_RANK[last.severity]), last.created_at.isoformat()
    elif order == "sla_deadline":
        at = _NO_DEADLINE if last.sla_deadline is None else last.sla_deadline.isoformat()
    else:
        at = getattr(last, order).isoformat()
    key = {
        "o": order,
        "f": digest,
        "n": num,
        "a": at,
        "i": str(last.id),
        "t": None if breached_at is None else breached_at.isoformat(),
    }
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _foreign() -> InvalidInput:
    return InvalidInput("cursor is not a cursor of this listing", field="cursor")


def decode_cursor(cursor: object, order: str) -> dict[str, Any]:
    """A cursor's parts, checked: InvalidInput naming ``cursor`` for anything this module
    did not issue for a listing in ``order``."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > 1000:
        raise _foreign()
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(key, dict) or key.get("o") != order:
            raise _foreign()
        num, at, stamp = key["n"], key["a"], key["t"]
        parts: dict[str, Any] = {
            "digest": str(key["f"]),
            "after_id": UUID(key["i"]),
            "after_num": None if num is None else float(num),
            "after_at": None,
            "breached_at": None if stamp is None else dt.datetime.fromisoformat(stamp),
        }
        if at is not None:
            parts["after_at"] = at if at == _NO_DEADLINE else dt.datetime.fromisoformat(at)
    except (
        binascii.Error,
        ValueError,
        UnicodeDecodeError,
        KeyError,
        TypeError,
        AttributeError,  # UUID() of a number
        OverflowError,  # float() of an integer past a double's range
    ):
        raise _foreign() from None
    if parts["after_num"] is not None and not math.isfinite(parts["after_num"]):
        raise _foreign()
    needs_num = order in ("score", "severity")
    needs_at = order != "score"
    if needs_num != (parts["after_num"] is not None) or needs_at != (parts["after_at"] is not None):
        raise _foreign()
    return parts


@operation(writes=False)
def list_(
    *,
    kind: str | None = None,
    status: str | Sequence[str] | None = None,
    severity: str | Sequence[str] | None = None,
    domain: str | None = None,
    owner: str | None = None,
    entity: str | None = None,
    source: str | None = None,
    type: str | None = None,
    open: bool | None = None,
    sla_breached: bool = False,
    now: dt.datetime | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    opened_after: dt.datetime | None = None,
    opened_before: dt.datetime | None = None,
    resolved_after: dt.datetime | None = None,
    resolved_before: dt.datetime | None = None,
    attrs: Mapping[str, Any] | None = None,
    where: Sequence[Where] | None = None,
    order: str = "created_at",
    cursor: str | None = None,
    limit: int = 100,
) -> Gen[CasePage]:
    """One page of the cases matching every filter given, in ``order`` (see ORDERS).

    ``status`` and ``severity`` take one value or several; ``open`` True keeps open cases,
    False resolved ones; ``sla_breached`` keeps open cases past their deadline at ``now``
    (default: when the first page was read); time bounds are inclusive below, exclusive
    above; ``attrs`` is containment and ``where`` typed comparisons on attrs (as memory's
    Filter). Pass the page's ``next_cursor`` back as ``cursor`` with the same filters.
    """
    params = filters(locals())  # the filter arguments, checked
    chosen = v.choice("order", order, ORDERS)
    v.flag("sla_breached", sla_breached)
    size = v.integer("limit", limit, low=1, high=MAX_PAGE)
    at = _moment("now", now)
    digest = _digest(chosen, {**params, "sla_breached": sla_breached})
    after: dict[str, Any] = {"after_num": None, "after_at": None, "after_id": None}
    if cursor is not None:
        parts = decode_cursor(cursor, chosen)
        if parts.pop("digest") != digest:
            raise InvalidInput("cursor was issued for a listing with other filters", field="cursor")
        stamp = parts.pop("breached_at")
        at = at or stamp
        after = parts
    breached_at = None
    if sla_breached:
        breached_at = at or dt.datetime.now(dt.UTC)
    # One row more than the page tells whether another page follows.
    rows = yield Q.list_cases.all(
        order=chosen, breached_at=breached_at, limit=size + 1, **params, **after
    )
    items = [case_from_row(r) for r in rows[:size]]
    nxt = encode_cursor(chosen, digest, items[-1], breached_at) if len(rows) > size else None
    return CasePage(items=items, next_cursor=nxt)


@operation(writes=False)
def find_sla_breaches(
    now: dt.datetime | None = None,
    *,
    kind: str | None = None,
    domain: str | None = None,
    limit: int = 100,
) -> Gen[list[Case]]:
    """Open cases past their SLA deadline at ``now`` (default: now), most overdue first."""
    page = yield from list_(
        kind=kind, domain=domain, sla_breached=True, now=now, order="sla_deadline", limit=limit
    ).start()
    return page.items


@operation(writes=False)
def find_by_entity(
    entity: str, *, kind: str | None = None, open: bool | None = None, limit: int = 100
) -> Gen[list[Case]]:
    """The cases about a business entity (the ``entity`` field), newest first."""
    page = yield from list_(entity=entity, kind=kind, open=open, limit=limit).start()
    return page.items


@operation(writes=False)
def similar(case_id: UUID | str, *, limit: int = 10) -> Gen[list[SimilarCase]]:
    """The cases most like one: those of the same kind about the same entity first, then
    the same type, then the same kind, then by the words they share with its title."""
    rows = yield Q.similar_cases.all(
        id=case_uuid(case_id), limit=v.integer("limit", limit, low=1, high=MAX_PAGE)
    )
    return [
        SimilarCase(
            case=case_from_row(r),
            same_kind=r["same_kind"],
            same_entity=r["same_entity"],
            same_type=r["same_type"],
            text_rank=float(r["text_rank"]),
        )
        for r in rows
    ]


def _durations(row: Mapping[str, Any], prefix: str) -> DurationStats:
    return DurationStats(
        count=int(row[f"{prefix}_n"]),
        avg=row[f"{prefix}_avg"],
        p50=row[f"{prefix}_p50"],
        p90=row[f"{prefix}_p90"],
        p99=row[f"{prefix}_p99"],
        max=row[f"{prefix}_max"],
    )


@operation(writes=False)
def aggregates(
    *,
    kind: str | None = None,
    domain: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Gen[CaseAggregates]:
    """The supervisor's view of the tenant's cases (of one ``kind`` and ``domain`` when
    given): counts from the tallies the database keeps, open cases past their deadline
    and their ages at ``now`` (default: now), and the resolution times of the cases
    resolved in [``since``, ``until``) (default: the 30 days up to ``now``)."""
    name = None if kind is None else fields.kind_name(kind)
    area = None if domain is None else fields.check("domain", domain)
    at = _moment("now", now) or dt.datetime.now(dt.UTC)
    end = _moment("until", until) or at
    try:
        start = _moment("since", since) or end - DEFAULT_WINDOW
    except OverflowError:
        raise InvalidInput("until is too early for a window before it", field="until") from None
    if start >= end:
        raise InvalidInput("since must be earlier than until", field="since")
    rows = yield Q.case_counts.all(kind=name, domain=area)
    by: dict[str, dict[str, int]] = {"status": {}, "severity": {}, "kind": {}, "domain": {}}
    total = open_count = 0
    for r in rows:
        n = int(r["n"])
        total += n
        open_count += 0 if r["terminal"] else n
        for dim in by:
            by[dim][r[dim]] = by[dim].get(r[dim], 0) + n
    stats = yield Q.case_durations.one(kind=name, domain=area, now=at, since=start, until=end)
    return CaseAggregates(
        total=total,
        open=open_count,
        by_status=by["status"],
        by_severity=by["severity"],
        by_kind=by["kind"],
        by_domain=by["domain"],
        sla_breached=int(stats["late"]),
        open_age=_durations(stats, "open"),
        resolution=_durations(stats, "took"),
        now=at,
        since=start,
        until=end,
    )
