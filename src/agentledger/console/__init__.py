"""The web console: server-rendered pages (Jinja2 + htmx) over AsyncLedger."""

from fastapi import FastAPI

from agentledger.console import routes, sessions


def mount(app: FastAPI) -> None:
    """Serve the console's pages and static files under /console."""
    routes.mount(app)
    app.include_router(sessions.router)


__all__ = ["mount"]
