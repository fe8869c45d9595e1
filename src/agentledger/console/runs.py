"""Console page for the run log: recent runs with their outcome, duration and tokens."""

from __future__ import annotations

from datetime import timedelta
from statistics import median

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agentledger.console import charts
from agentledger.console.routes import Viewer, _listed, _page
from agentledger.runs.records import RUN_LIFECYCLE, Run
from agentledger.web.auth import scope as tenant_of

router = APIRouter(prefix="/console", include_in_schema=False)
# Runs per page (and per chart).
PAGE = 100


def _charts(runs: list[Run]) -> dict[str, str]:
    """Duration and tokens of each run shown, oldest first, so time reads left to right."""
    ordered = runs[::-1]
    one_day = bool(runs) and runs[0].started_at - runs[-1].started_at < timedelta(days=1)
    labels = [r.started_at.strftime("%H:%M" if one_day else "%b %d") for r in ordered]
    return {
        "duration_chart": charts.line_chart(
            labels,
            [None if r.duration_ms is None else r.duration_ms / 1000 for r in ordered],
            unit=" s",
            color="#c98a0b",
            title="Duration of each run",
        ),
        "tokens_chart": charts.stacked_bar_chart(
            labels,
            [
                ("tokens in", "#8a5cf6", [float(r.tokens_in) for r in ordered]),
                ("tokens out", "#c4b0fb", [float(r.tokens_out) for r in ordered]),
            ],
            title="Tokens of each run",
        ),
    }


@router.get("/runs", name="console-runs")
async def runs(
    request: Request, who: Viewer, status: str = "", trigger: str = "", before: str = ""
) -> HTMLResponse:
    scope = tenant_of(request, who)
    rows, error = await _listed(
        scope.runs.list(
            status=status or None,
            trigger_type=trigger or None,
            before=before or None,
            limit=PAGE,
        )
    )
    durations = [r.duration_ms for r in rows if r.duration_ms is not None]
    return _page(
        request,
        "runs.html",
        who,
        "console-runs",
        title="Runs",
        runs=rows,
        statuses=RUN_LIFECYCLE.states,
        status=status,
        trigger=trigger,
        error=error,
        failed=sum(1 for r in rows if r.status == "failed"),
        median_ms=median(durations) if durations else None,
        tokens=sum(r.tokens_in + r.tokens_out for r in rows),
        more=str(rows[-1].id) if len(rows) == PAGE else None,
        **_charts(rows),
    )
