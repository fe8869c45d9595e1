"""The web console: server-rendered pages (Jinja2 + htmx) over AsyncLedger."""

from agentledger.console.routes import mount

__all__ = ["mount"]
