"""The agentledger MCP server: the tools and resources of one ledger, for whichever tenant
the caller's key belongs to, with every failure answered as a readable tool error."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pydantic_core
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import AnyHttpUrl, ValidationError

from agentledger import __version__
from agentledger.errors import InvalidInput, LedgerError, NotFound, TenantMismatch
from agentledger.integrations.mcp import (
    tools_cases,
    tools_catalog,
    tools_log,
    tools_memory,
    tools_work,
)
from agentledger.integrations.mcp.auth import Access
from agentledger.integrations.mcp.toolkit import ledger_error_text, validation_text

INSTRUCTIONS = """agentledger is the system of record of an AI-agent application: long-term
memory (entities and the relationships between them), append-only event streams, decisions
with human feedback, alerts for people, a task queue, conversation sessions, cases (items
with a lifecycle and a timeline, such as exceptions) and a catalog of versioned documents
(playbooks, policies, tool definitions).

Everything you read and write belongs to the tenant of your agentledger API key; a reader
key reads, a writer key also writes. Ids are UUIDs (task ids are integers): keep
the ids tools return to refer to things later. A case moves only as its kind allows:
cases_get lists the statuses it may move to next. Before creating a memory entity, search for
it (memory_find_by_name, memory_search) or upsert with a key so that it is not duplicated.
Errors start with a code (invalid-input, not-found, conflict, permission-denied...) and name
the argument at fault."""

STREAM_EVENTS = 100  # events a stream resource shows: the latest ones


class LedgerMCP(MCPServer[Any]):
    """An MCPServer whose tool failures read ``code: message (field: name)``: a library
    error or an argument that fails the input schema reaches the model as that one line;
    anything else stays the SDK's bare ``Error executing tool <name>`` (logged here)."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, LedgerError):
                raise ToolError(ledger_error_text(cause)) from cause
            if isinstance(cause, ValidationError):
                raise ToolError(validation_text(cause)) from cause
            raise


def create_server(
    access: Access, *, verifier: TokenVerifier | None = None, issuer_url: str | None = None
) -> LedgerMCP:
    """The server over ``access``'s ledger. Over HTTP pass ``verifier`` (it admits each
    request's bearer key) and ``issuer_url``, the server's own address (agentledger issues
    its keys itself; nothing is published there)."""
    auth = None
    if verifier is not None:
        auth = AuthSettings(
            issuer_url=AnyHttpUrl(issuer_url or "http://127.0.0.1"), resource_server_url=None
        )
    server = LedgerMCP(
        "agentledger",
        title="agentledger",
        version=__version__,
        instructions=INSTRUCTIONS,
        token_verifier=verifier,
        auth=auth,
        log_level="WARNING",
    )
    tools_memory.register(server, access)
    tools_log.register(server, access)
    tools_work.register(server, access)
    tools_cases.register(server, access)
    tools_catalog.register(server, access)
    _resources(server, access)
    return server


def _resources(server: MCPServer[Any], access: Access) -> None:
    @server.resource(
        "agentledger://memory/entities/{id}",
        name="entity",
        title="Memory entity",
        description="One memory entity by id, as JSON: kind, name, summary, attrs, tags.",
        mime_type="application/json",
    )
    async def entity(id: str) -> str:
        try:
            memory = (await access.scope("reader")).memory
            return _json(await memory.get(_uuid(id)))
        except LedgerError as exc:
            raise _resource_error(exc) from exc

    # A stream's name is a key, not a path: "..", "/" or a leading "/" in it are harmless.
    @server.resource(
        "agentledger://streams/{stream}",
        name="stream",
        title="Event stream",
        description=f"An event stream's version and its latest {STREAM_EVENTS} events, oldest "
        "first, as JSON (percent-encode a stream name's reserved characters).",
        mime_type="application/json",
        security=ResourceSecurity(exempt_params={"stream"}),
    )
    async def stream(stream: str) -> str:
        try:
            events = (await access.scope("reader")).events
            latest = await events.read_stream(stream, backwards=True, limit=STREAM_EVENTS)
            version = latest[0].version if latest else 0
            return _json({"stream": stream, "version": version, "events": latest[::-1]})
        except LedgerError as exc:
            raise _resource_error(exc) from exc


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a UUID", field="id") from None


def _json(value: object) -> str:
    return pydantic_core.to_json(value, indent=2).decode()


def _resource_error(exc: LedgerError) -> ResourceError:
    """Not found (or not this tenant's, or not an id at all) is the client's -32602; anything
    else is a -32603 naming the error."""
    if isinstance(exc, NotFound | TenantMismatch | InvalidInput):
        return ResourceNotFoundError(ledger_error_text(exc))
    return ResourceError(ledger_error_text(exc))
