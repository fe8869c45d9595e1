"""agentledger over the Model Context Protocol (the ``mcp`` extra): memory, events,
decisions, alerts, tasks, sessions, cases and the catalog as tools, entities and streams as
resources, for the tenant and role of an agentledger API key, over stdio or streamable HTTP."""

from agentledger.integrations.mcp.auth import Access, KeyVerifier, bearer_caller, key_caller
from agentledger.integrations.mcp.serve import DEFAULT_PORT, http_app, serve_http, serve_stdio
from agentledger.integrations.mcp.server import LedgerMCP, create_server

__all__ = [
    "DEFAULT_PORT",
    "Access",
    "KeyVerifier",
    "LedgerMCP",
    "bearer_caller",
    "create_server",
    "http_app",
    "key_caller",
    "serve_http",
    "serve_stdio",
]
