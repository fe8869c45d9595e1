"""What every tool shares: the hints clients show (reads, writes, repeatable writes), and
how a failure reaches the model: one line naming the error code, what went wrong and the
field at fault, never a traceback."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import ValidationError

from agentledger.errors import LedgerError

F = TypeVar("F", bound=Callable[..., Any])

# Every tool works inside the ledger only (closed world).
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# A write whose repeat with the same arguments changes nothing more (an edge, feedback, an
# acknowledgement, a settled task); the others may add a second row unless given an id.
WRITE_AGAIN = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)


def ledger_error_text(exc: LedgerError) -> str:
    """``code: message (field: name)``, e.g. ``not-found: decision ... does not exist
    (field: decision_id)``."""
    text = f"{exc.code}: {exc.message}"
    return f"{text} (field: {exc.field})" if exc.field else text


def validation_text(exc: ValidationError) -> str:
    """The arguments that failed the input schema, each by name with what it should be (the
    values themselves are the caller's data and are left out)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return "invalid-input: " + "; ".join(problems)


def tool(server: MCPServer[Any], hints: ToolAnnotations) -> Callable[[F], F]:
    """Register the decorated function as a tool named after it, described by its docstring
    (dedented: it is what the model reads) and its parameters' fields."""

    def register(fn: F) -> F:
        server.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)
        return fn

    return register
