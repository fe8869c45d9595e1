"""Console pages for the agent registry: every agent with its status, and one agent."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from agentledger.agents.records import AGENT_STATUSES
from agentledger.console.routes import Viewer, _listed, _missing_page, _page
from agentledger.errors import InvalidInput, NotFound
from agentledger.web.auth import scope as tenant_of

router = APIRouter(prefix="/console", include_in_schema=False)
# Agents listed on one page; a registry past it narrows by status, type or capability.
PAGE = 500


@router.get("/agents", name="console-agents")
async def agents(
    request: Request, who: Viewer, status: str = "", agent_type: str = "", capability: str = ""
) -> HTMLResponse:
    scope = tenant_of(request, who)
    rows, error = await _listed(
        scope.agents.list(
            status=status or None,
            agent_type=agent_type or None,
            capability=capability or None,
            limit=PAGE,
        )
    )
    counts = {s: sum(1 for a in rows if a.status == s) for s in AGENT_STATUSES}
    return _page(
        request,
        "agents.html",
        who,
        "console-agents",
        title="Agents",
        agents=rows,
        counts=counts,
        statuses=AGENT_STATUSES,
        status=status,
        agent_type=agent_type,
        capability=capability,
        error=error,
        full=len(rows) == PAGE,
    )


@router.get("/agents/{name:path}", name="console-agent")
async def agent(request: Request, name: str, who: Viewer) -> HTMLResponse:
    scope = tenant_of(request, who)
    try:
        a = await scope.agents.get(name)
    except (NotFound, InvalidInput):  # no such agent, or no such name
        return _missing_page(request, who, "console-agents", "agent")
    decisions = await scope.decisions.list(agent=name, limit=20)
    return _page(
        request, "agent.html", who, "console-agents", title=a.name, a=a, decisions=decisions
    )
