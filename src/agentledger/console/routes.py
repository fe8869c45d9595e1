"""Console pages: overview (supervisor view), alerts, decisions, memory, events."""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException

from agentledger.console import charts
from agentledger.console.session import (
    CSRF_FIELD,
    check_csrf,
    check_origin,
    sign_in,
    sign_out,
    signed_in as signed_in_now,
)
from agentledger.errors import LedgerError, NotFound
from agentledger.memory import Filter
from agentledger.web.auth import Principal, RoleCheck, principal_of, scope as tenant_of

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str)[:2000]
templates.env.filters["tojson_line"] = lambda v: json.dumps(v, default=str)[:300]
templates.env.filters["ago"] = lambda t: _ago(t)
# The marks the searches put around matched words (ts_headline's StartSel / StopSel).
MARKS = ("<b>", "</b>", "<mark>", "</mark>")


def highlighted(snippet: str) -> Markup:
    """A search highlight as HTML: the stored text in it escaped (it is what users and agents
    wrote), only the search's own marks kept as tags."""
    html = str(escape(snippet))
    for mark in MARKS:
        html = html.replace(str(escape(mark)), mark)
    return Markup(html)


templates.env.filters["highlighted"] = highlighted
router = APIRouter(prefix="/console", include_in_schema=False)
T = TypeVar("T")


class SignIn(Exception):
    """Raised when a console page needs a signed-in user."""


def mount(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    async def to_login(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse("/console/login", status_code=303)

    app.add_exception_handler(SignIn, to_login)
    # The API's answers to errors, as pages where a browser asked for a console page.
    for error in (LedgerError, RequestValidationError, HTTPException):
        app.add_exception_handler(error, _as_page(app.exception_handlers[error]))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)


def _as_page(
    answer: Callable[[Request, Any], Response | Awaitable[Response]],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """``answer`` (the API's problem+json for an error) for the API; for a console page, the
    same status, title and detail as a page a person can read."""

    async def handle(request: Request, exc: Exception) -> Response:
        answered = answer(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        if not request.url.path.startswith("/console/") or not isinstance(response, JSONResponse):
            return response
        problem = json.loads(bytes(response.body))
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "title": problem.get("title", "Error"),
                "who": None,
                "status": response.status_code,
                "heading": problem.get("title", "Something went wrong."),
                "detail": problem.get("detail", ""),
                "request_id": problem.get("request_id"),
            },
            status_code=response.status_code,
            headers={k: v for k, v in response.headers.items() if k in ("retry-after",)},
        )

    return handle


async def signed_in(request: Request) -> Principal:
    """The signed-in principal (its sign-in live: not expired or ended, its key not
    revoked); a state-changing request must also carry the sign-in's CSRF token and come
    from this site."""
    current = await signed_in_now(request)
    if current is None:
        raise SignIn
    await check_csrf(request, current.csrf)
    request.state.csrf = current.csrf
    return principal_of(current.identity)


# The same role rules as the API, through the same check (agentledger.web.auth).
Viewer = Annotated[Principal, Depends(RoleCheck("reader", signed_in))]
Editor = Annotated[Principal, Depends(RoleCheck("writer", signed_in))]


def _page(request: Request, name: str, who: Principal, active: str, **ctx: Any) -> HTMLResponse:
    return _fragment(request, name, who, active=active, **ctx)


def _missing_page(request: Request, who: Principal, active: str, what: str) -> HTMLResponse:
    """The not-found page of a ``what`` (an agent, an entity...) under the ``active`` tab,
    answered 404 (also for another tenant's)."""
    response = _page(request, "missing.html", who, active, title="Not found", what=what)
    response.status_code = 404
    return response


def _by(who: Principal) -> str:
    """Who a console change is recorded as: the console and the key's public prefix."""
    return f"console:{who.key_id[:8]}"


async def _listed(read: Awaitable[list[T]]) -> tuple[list[T], str | None]:
    """The rows ``read`` gives; none, and the library's refusal to show, when it refuses (a
    malformed filter)."""
    try:
        return await read, None
    except LedgerError as exc:
        return [], exc.message


async def _acted(change: Awaitable[T], reread: Callable[[], Awaitable[T]]) -> tuple[T, str | None]:
    """The record ``change`` returns; when the library refuses the change, the record as it
    is (``reread``: NotFound for another tenant's id) and the refusal, to show in its row."""
    try:
        return await change, None
    except LedgerError as exc:
        return await reread(), exc.message


def _fragment(request: Request, name: str, who: Principal, **ctx: Any) -> HTMLResponse:
    """A template with what every page needs: who is signed in and the CSRF token."""
    context = {"who": who, "csrf": request.state.csrf, "csrf_field": CSRF_FIELD, **ctx}
    return templates.TemplateResponse(request, name, context)


@router.get("/login", name="console-login")
async def login_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"title": "Sign in", "who": None})


@router.post("/login")
async def login(request: Request, key: str = Form(...)) -> Response:
    check_origin(request)
    response = RedirectResponse("/console/", status_code=303)
    if await sign_in(request, response, key.strip()) is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"title": "Sign in", "who": None, "error": "That key is unknown or revoked."},
            status_code=401,
        )
    return response


@router.post("/logout", name="console-logout")
async def logout(request: Request, who: Viewer) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    await sign_out(request, response)
    return response


@router.get("/", name="console-overview")
async def overview(request: Request, who: Viewer) -> HTMLResponse:
    scope = tenant_of(request, who)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    pending = await scope.alerts.pending(limit=8)
    by_tier = await scope.alerts.pending_counts()
    since = today - dt.timedelta(days=29)
    days = [(since + dt.timedelta(days=i)).date() for i in range(30)]
    acceptance = await scope.decisions.acceptance_stats(by=(), period="day", since=since)
    rate = {s.period_start.date(): s.acceptance_rate for s in acceptance if s.period_start}
    decided = {s.period_start.date(): s.with_feedback for s in acceptance if s.period_start}
    run_stats = await scope.runs.stats(since=since)
    runs_per_day: dict[dt.date, int] = defaultdict(int)
    p95: dict[dt.date, float] = {}
    tokens: dict[dt.date, int] = defaultdict(int)
    for stat in run_stats:
        runs_per_day[stat.day] += stat.runs
        tokens[stat.day] += stat.tokens_in + stat.tokens_out
        if stat.p95_ms is not None:
            p95[stat.day] = max(p95.get(stat.day, 0.0), float(stat.p95_ms))
    labels = [d.strftime("%b %d") for d in days]
    return _page(
        request,
        "overview.html",
        who,
        "console-overview",
        title="Overview",
        by_tier=by_tier,
        pending=pending,
        acceptance_chart=charts.line_chart(
            labels, [rate.get(d) for d in days], unit="%", top=1.0, title="Decision acceptance rate"
        ),
        decided_total=sum(decided.values()),
        runs_chart=charts.bar_chart(
            labels, [runs_per_day.get(d, 0) for d in days], title="Runs per day"
        ),
        duration_chart=charts.line_chart(
            labels,
            [p95.get(d) for d in days],
            unit=" ms",
            color="#c98a0b",
            title="p95 run duration",
        ),
        runs_total=sum(runs_per_day.values()),
        tokens_chart=charts.bar_chart(
            labels,
            [tokens.get(d, 0) / 1000 for d in days],
            unit="k",
            color="#8a5cf6",
            title="Tokens per day (thousands)",
        ),
        events=await scope.events.recent(limit=10),
    )


@router.get("/alerts", name="console-alerts")
async def alerts(
    request: Request, who: Viewer, status: str = "pending", tier: str = ""
) -> HTMLResponse:
    scope = tenant_of(request, who)
    tier_no = int(tier) if tier in ("1", "2", "3") else None
    if status == "pending":  # the work queue: most urgent first
        rows = await scope.alerts.pending(tier_no, limit=200)
    else:
        rows = await scope.alerts.list(status=status or None, tier=tier_no, limit=200)
    return _page(
        request,
        "alerts.html",
        who,
        "console-alerts",
        title="Alerts",
        alerts=rows,
        status=status,
        tier=tier,
    )


@router.post("/alerts/{alert_id}/{action}", name="console-alert-action")
async def alert_action(
    request: Request, alert_id: UUID, action: Literal["acknowledge", "resolve"], who: Editor
) -> HTMLResponse:
    scope = tenant_of(request, who)
    change = getattr(scope.alerts, action)(alert_id, by=_by(who))
    alert, error = await _acted(change, lambda: scope.alerts.get(alert_id))
    return _fragment(request, "_alert_row.html", who, a=alert, error=error)


@router.get("/decisions", name="console-decisions")
async def decisions(request: Request, who: Viewer, awaiting: str = "") -> HTMLResponse:
    scope = tenant_of(request, who)
    rows = await scope.decisions.list(awaiting_feedback=bool(awaiting), limit=200)
    stats = await scope.decisions.acceptance_stats(by=("decision_type",))
    return _page(
        request,
        "decisions.html",
        who,
        "console-decisions",
        title="Decisions",
        decisions=rows,
        stats=stats,
        awaiting=awaiting,
    )


@router.post("/decisions/{decision_id}/feedback", name="console-feedback")
async def feedback(
    request: Request,
    decision_id: UUID,
    who: Editor,
    accepted: Literal["true", "false"] = Form(...),
    reason: str = Form(""),
) -> HTMLResponse:
    scope = tenant_of(request, who)
    change = scope.decisions.record_feedback(
        decision_id, accepted == "true", reason=reason or None, by=_by(who)
    )
    d, error = await _acted(change, lambda: scope.decisions.get(decision_id))
    return _fragment(request, "_decision_row.html", who, d=d, error=error)


@router.get("/memory", name="console-memory")
async def memory(request: Request, who: Viewer, q: str = "", kind: str = "") -> HTMLResponse:
    scope = tenant_of(request, who)
    columns: list[tuple[str, list[Any]]] = []
    error = None
    if q.strip():
        where = Filter(kind=kind) if kind else None
        memory = scope.memory
        try:
            columns = [
                ("Fuzzy name (pg_trgm)", await memory.find_by_name(q, filter=where, limit=10)),
                ("Full text (tsvector)", await memory.search_text(q, filter=where, limit=10)),
                ("Hybrid (rank fusion)", await memory.search(q, filter=where, limit=10)),
            ]
        except LedgerError as exc:
            error = exc.message
    stats = await scope.memory.stats()
    recent = [] if q.strip() else await scope.memory.list(limit=20)
    return _page(
        request,
        "memory.html",
        who,
        "console-memory",
        title="Memory",
        q=q,
        kind=kind,
        columns=columns,
        error=error,
        stats=stats,
        recent=recent,
    )


@router.get("/memory/{entity_id}", name="console-entity")
async def entity(request: Request, entity_id: UUID, who: Viewer) -> HTMLResponse:
    scope = tenant_of(request, who)
    try:
        e = await scope.memory.get(entity_id)
    except NotFound:
        return _missing_page(request, who, "console-memory", "entity")
    neighbours = await scope.memory.neighbours(entity_id, limit=50)
    return _page(
        request, "entity.html", who, "console-memory", title=e.name, e=e, neighbours=neighbours
    )


@router.get("/events", name="console-events")
async def events(
    request: Request, who: Viewer, stream: str = "", partial: str = ""
) -> HTMLResponse:
    scope = tenant_of(request, who)
    rows, error = await _listed(
        scope.events.read_stream(stream, backwards=True, limit=100)
        if stream
        else scope.events.recent(limit=100)
    )
    name = "_events_table.html" if partial else "events.html"
    return _page(
        request,
        name,
        who,
        "console-events",
        title="Events",
        events=rows,
        stream=stream,
        error=error,
    )


def _ago(t: dt.datetime | None) -> str:
    if t is None:
        return "-"
    seconds = (dt.datetime.now(dt.UTC) - t).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"
