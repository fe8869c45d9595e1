"""Console pages for cases: the filtered table, one case with its timeline and an editor's
moves, assignment and comments, and the supervisor's view of the tenant's cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from agentledger.cases import ORDERS, SEVERITIES, Case, CaseKind, DurationStats
from agentledger.console import charts
from agentledger.console.routes import Editor, Viewer, _by, _fragment, _missing_page, _page
from agentledger.errors import LedgerError, NotFound
from agentledger.ledger import AsyncTenantScope
from agentledger.web.auth import Principal, scope as tenant_of

router = APIRouter(prefix="/console", include_in_schema=False)
# Cases per page of the table (``limit`` asks for up to MAX_PAGE).
PAGE = 50
MAX_PAGE = 200
# The event a change sends (HX-Trigger), on which the case's timeline reloads.
CHANGED = "case-changed"
# The orders the table offers, with their labels (the library's ORDERS, see cases.records).
ORDER_LABELS = {
    "created_at": "newest first",
    "score": "highest score",
    "sla_deadline": "SLA deadline, soonest",
    "severity": "most severe",
    "updated_at": "latest change",
}
# Resolution windows the supervisor view offers, in days.
WINDOWS = (7, 30, 90)
# Each severity's colour in the charts (the console's palette, console.css); "" is none.
SEVERITY_COLORS = {
    "critical": "#d23f3f",
    "high": "#c98a0b",
    "medium": "#4f6bed",
    "low": "#1a9e6e",
    "": "#a0a7b8",
}
# The domains the supervisor's chart shows, largest first (the table lists them all).
DOMAINS_CHARTED = 12


def _missing(request: Request, who: Principal) -> HTMLResponse:
    return _missing_page(request, who, "console-cases", "case")


@router.get("/cases", name="console-cases")
async def cases(
    request: Request,
    who: Viewer,
    kind: str = "",
    status: str = "",
    severity: str = "",
    domain: str = "",
    owner: str = "",
    breached: str = "",
    order: str = "created_at",
    cursor: str = "",
    limit: int = PAGE,
) -> HTMLResponse:
    """One page of the tenant's cases; the next page's link carries the library's cursor
    with the same filters."""
    scope = tenant_of(request, who)
    kinds = await scope.cases.kinds()
    chosen = order if order in ORDERS else "created_at"
    size = limit if 1 <= limit <= MAX_PAGE else PAGE
    filters: dict[str, Any] = {
        "kind": kind,
        "status": status,
        "severity": severity,
        "domain": domain,
        "owner": owner,
        "breached": breached,
        "order": chosen,
        "limit": "" if size == PAGE else size,
    }
    error = None
    items: list[Case] = []
    more = None
    try:
        page = await scope.cases.list(
            kind=kind or None,
            status=status or None,
            severity=severity or None,
            domain=domain or None,
            owner=owner or None,
            sla_breached=bool(breached),
            order=chosen,
            cursor=cursor or None,
            limit=size,
        )
        items, more = page.items, page.next_cursor
    except LedgerError as exc:
        error = exc.message
    query = {k: v for k, v in filters.items() if v}
    statuses = sorted({s for k in kinds for s in k.statuses if not kind or k.kind == kind})
    return _page(
        request,
        "cases.html",
        who,
        "console-cases",
        title="Cases",
        cases=items,
        kinds=kinds,
        statuses=statuses,
        severities=SEVERITIES,
        orders=ORDER_LABELS,
        now=dt.datetime.now(dt.UTC),
        error=error,
        paged=bool(cursor),
        first_page=urlencode(query),
        next_page=urlencode({**query, "cursor": more}) if more else None,
        **filters,
    )


def _unit(seconds: list[float]) -> tuple[str, float]:
    """The unit that reads best for durations up to the largest of ``seconds``."""
    top = max(seconds, default=0.0)
    if top >= 2 * 86400:
        return "d", 86400.0
    if top >= 2 * 3600:
        return "h", 3600.0
    if top >= 2 * 60:
        return "m", 60.0
    return "s", 1.0


def _duration(seconds: float | None) -> str:
    """A duration as its largest unit with one decimal (``3.5h``), or a dash."""
    if seconds is None:
        return "–"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _percentiles_chart(stats: DurationStats, title: str, color: str) -> str:
    """Average, p50, p90, p99 and maximum of ``stats`` (DurationStats) as bars."""
    if stats.count == 0:
        return charts.bar_chart([], [], title=title)
    names = ("avg", "p50", "p90", "p99", "max")
    values = [float(getattr(stats, n) or 0.0) for n in names]
    unit, size = _unit(values)
    return charts.bar_chart(names, [v / size for v in values], unit=unit, color=color, title=title)


@router.get("/cases/supervisor", name="console-cases-supervisor")
async def supervisor(
    request: Request, who: Viewer, kind: str = "", domain: str = "", days: int = 30
) -> HTMLResponse:
    """The supervisor's view: what the library's ``aggregates`` counts, charted."""
    scope = tenant_of(request, who)
    kinds = await scope.cases.kinds()
    window = days if days in WINDOWS else 30
    now = dt.datetime.now(dt.UTC)
    error = None
    try:
        stats = await scope.cases.aggregates(
            kind=kind or None, domain=domain or None, since=now - dt.timedelta(days=window), now=now
        )
    except LedgerError as exc:
        error = exc.message
        stats = await scope.cases.aggregates(since=now - dt.timedelta(days=window), now=now)
    order = _status_order(kinds, kind, stats.by_status)
    severities = [s for s in (*SEVERITIES[::-1], "") if s in stats.by_severity]
    severities += sorted(set(stats.by_severity) - set(severities))
    domains = sorted(stats.by_domain.items(), key=lambda item: (-item[1], item[0]))
    return _page(
        request,
        "cases_supervisor.html",
        who,
        "console-cases",
        title="Cases: supervisor",
        stats=stats,
        kinds=kinds,
        kind=kind,
        domain=domain,
        days=window,
        windows=WINDOWS,
        error=error,
        status_order=order,
        severity_order=severities,
        domains=domains,
        duration=_duration,
        status_chart=charts.bar_chart(
            order, [stats.by_status[s] for s in order], title="Cases by status"
        ),
        severity_chart=charts.bar_chart(
            [s or "none" for s in severities],
            [stats.by_severity[s] for s in severities],
            color="#c98a0b",
            title="Cases by severity",
        ),
        domain_chart=charts.bar_chart(
            [d or "none" for d, _ in domains[:DOMAINS_CHARTED]],
            [n for _, n in domains[:DOMAINS_CHARTED]],
            color="#8a5cf6",
            title="Cases by domain",
        ),
        age_chart=_percentiles_chart(stats.open_age, "Age of open cases", "#4f6bed"),
        resolution_chart=_percentiles_chart(stats.resolution, "Time to resolve", "#1a9e6e"),
    )


def _status_order(kinds: list[CaseKind], kind: str, counted: dict[str, int]) -> list[str]:
    """The counted statuses in their kinds' declared order (the lifecycle reads left to
    right), then any others by name."""
    order: list[str] = []
    for k in kinds:
        if kind and k.kind != kind:
            continue
        order.extend(s for s in k.statuses if s in counted and s not in order)
    return order + sorted(set(counted) - set(order))


async def _actions(scope: AsyncTenantScope, case: Case) -> dict[str, Any]:
    """What the status card shows: the case and the moves its kind allows from its status."""
    kind = await scope.cases.kind(case.kind)
    return {"c": case, "moves": kind.transitions.get(case.status, []), "changed": CHANGED}


@router.get("/cases/{case_id}", name="console-case")
async def case(request: Request, case_id: UUID, who: Viewer, partial: str = "") -> HTMLResponse:
    """One case: its fields, body, timeline, linked entities and blocks; an editor also
    sees its moves, the assignment and the comment form."""
    scope = tenant_of(request, who)
    try:
        found = await scope.cases.get(case_id)
    except NotFound:
        return _missing(request, who)
    timeline = await scope.cases.timeline(case_id)
    if partial:  # the timeline alone, reloaded after a change
        return _fragment(request, "_case_timeline.html", who, c=found, timeline=timeline)
    return _page(
        request,
        "case.html",
        who,
        "console-cases",
        title=found.title,
        timeline=timeline,
        links=await scope.cases.linked_entities(case_id),
        blocking=await scope.cases.blocking(case_id),
        blocked_by=await scope.cases.blocked_by(case_id),
        now=dt.datetime.now(dt.UTC),
        error=None,
        **await _actions(scope, found),
    )


async def _status_card(
    request: Request, who: Principal, case_id: UUID, change: Awaitable[Case]
) -> HTMLResponse:
    """The status card after ``change`` (a coroutine making it), with the library's
    refusal when there was one; 404 for a case the tenant does not have."""
    scope = tenant_of(request, who)
    error = None
    try:
        moved = await change
    except NotFound:
        return _missing(request, who)
    except LedgerError as exc:
        error = exc.message
        try:
            moved = await scope.cases.get(case_id)
        except NotFound:
            return _missing(request, who)
    response = _fragment(
        request, "_case_status.html", who, error=error, **await _actions(scope, moved)
    )
    if error is None:
        response.headers["HX-Trigger"] = CHANGED
    return response


@router.post("/cases/{case_id}/transition", name="console-case-transition")
async def transition(
    request: Request,
    case_id: UUID,
    who: Editor,
    status: str = Form(...),
    reason: str = Form(""),
    expected_version: int | None = Form(None),
) -> HTMLResponse:
    """Move the case (one of its kind's moves; the version the page showed must hold)."""
    cases_ = tenant_of(request, who).cases
    change = cases_.transition(
        case_id,
        status,
        by=_by(who),
        reason=reason.strip() or None,
        expected_version=expected_version,
    )
    return await _status_card(request, who, case_id, change)


@router.post("/cases/{case_id}/assign", name="console-case-assign")
async def assign(
    request: Request, case_id: UUID, who: Editor, owner: str = Form("")
) -> HTMLResponse:
    """Give the case to ``owner`` (empty: to nobody)."""
    cases_ = tenant_of(request, who).cases
    change = cases_.assign(case_id, owner.strip() or None, by=_by(who))
    return await _status_card(request, who, case_id, change)


@router.post("/cases/{case_id}/comments", name="console-case-comment")
async def comment(
    request: Request, case_id: UUID, who: Editor, text: str = Form(...)
) -> HTMLResponse:
    """Add a comment; answers the timeline with it (or the library's refusal)."""
    scope = tenant_of(request, who)
    error = None
    try:
        await scope.cases.comment(case_id, text, by=_by(who), actor_type="user")
    except NotFound:
        return _missing(request, who)
    except LedgerError as exc:
        error = exc.message
    found = await scope.cases.get(case_id)
    timeline = await scope.cases.timeline(case_id)
    return _fragment(request, "_case_timeline.html", who, c=found, timeline=timeline, error=error)
