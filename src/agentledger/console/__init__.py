"""The web console: server-rendered pages (Jinja2 + htmx) over AsyncLedger."""

from fastapi import FastAPI

from agentledger.console import agents, cases, queues, routes, runs, sessions


def mount(app: FastAPI) -> None:
    """Serve the console's pages and static files under /console."""
    routes.mount(app)
    for pages in (sessions, runs, agents, queues, cases):
        app.include_router(pages.router)


__all__ = ["mount"]
