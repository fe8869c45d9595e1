"""Console page for the task queues: what waits in each queue, and the dead letters to
retry or discard."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agentledger.console import charts
from agentledger.console.routes import Editor, Viewer, _acted, _fragment, _listed, _page, templates
from agentledger.tasks import QueueDepth
from agentledger.web.auth import scope as tenant_of

router = APIRouter(prefix="/console", include_in_schema=False)
# Dead letters shown per page.
LETTERS = 50
# The event a dead letter's action sends (HX-Trigger), on which the depth card reloads.
CHANGED = "queues-changed"
# Each state's colour in the depth chart (the console's palette, console.css).
STATES = (
    ("ready", "#4f6bed"),
    ("scheduled", "#a5b4f6"),
    ("running", "#1a9e6e"),
    ("expired", "#c98a0b"),
    ("dead", "#d23f3f"),
)


def _wait(seconds: float | None) -> str:
    """A wait in seconds as the largest two units (``3m 12s``), or a dash."""
    if seconds is None:
        return "-"
    left = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


templates.env.filters["wait"] = _wait


def _depth_context(depth: list[QueueDepth]) -> dict[str, object]:
    """What the depth card shows: totals, the stacked chart and the table's rows."""
    labels = [d.queue for d in depth]
    series = [(state, color, [getattr(d, state) for d in depth]) for state, color in STATES]
    ages = [d.oldest_ready_age for d in depth if d.oldest_ready_age is not None]
    return {
        "depth": depth,
        "totals": {state: sum(getattr(d, state) for d in depth) for state, _ in STATES},
        "oldest": max(ages) if ages else None,
        "per_minute": sum(d.completed_last_minute for d in depth),
        "depth_chart": charts.stacked_bar_chart(labels, series, title="Tasks per queue by state"),
        "changed": CHANGED,
    }


@router.get("/queues", name="console-queues")
async def queues(
    request: Request, who: Viewer, queue: str = "", before: int = 0, partial: str = ""
) -> HTMLResponse:
    scope = tenant_of(request, who)
    depth = await scope.tasks.depth()
    if partial:  # the depth card alone, reloaded after an action and every few seconds
        return _fragment(request, "_queue_depth.html", who, **_depth_context(depth))
    letters, error = await _listed(
        scope.tasks.dead_letters(queue or None, before=before or None, limit=LETTERS)
    )
    return _page(
        request,
        "queues.html",
        who,
        "console-queues",
        title="Queues",
        queue=queue,
        letters=letters,
        more=letters[-1].id if len(letters) == LETTERS else None,
        error=error,
        **_depth_context(depth),
    )


@router.post("/tasks/{task_id}/{action}", name="console-task-action")
async def task_action(
    request: Request, task_id: int, action: Literal["retry", "discard"], who: Editor
) -> HTMLResponse:
    """Retry a dead letter (redrive: pending again, with fresh attempts) or discard it."""
    tasks = tenant_of(request, who).tasks
    change = tasks.redrive(task_id) if action == "retry" else tasks.discard(task_id)
    task, error = await _acted(change, lambda: tasks.get(task_id))
    response = _fragment(request, "_dead_letter_row.html", who, t=task, error=error)
    if error is None:
        response.headers["HX-Trigger"] = CHANGED
    return response
