"""agentledger over the Model Context Protocol (the ``mcp`` extra): memory, events,
decisions, alerts, tasks, sessions, cases and the catalog as tools, entities and streams as
resources, for the tenant and role of an agentledger API key, over stdio or streamable HTTP."""

from agentledger.integrations.mcp.auth import (
    Access as Access,
    KeyVerifier as KeyVerifier,
    bearer_caller as bearer_caller,
    key_caller as key_caller,
)
from agentledger.integrations.mcp.serve import (
    DEFAULT_PORT as DEFAULT_PORT,
    http_app as http_app,
    serve_http as serve_http,
    serve_stdio as serve_stdio,
)
from agentledger.integrations.mcp.server import (
    LedgerMCP as LedgerMCP,
    create_server as create_server,
)
