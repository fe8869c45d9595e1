"""The application's own statements, run as operations on the ledger's tenant-bound
connection, so that its tables' row-level security sees the bound tenant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString

from agentledger.db.statements import Fetch, Gen, Query, Stmt, operation
from agentledger.errors import InvalidInput

Row = dict[str, Any]


@operation()
def run_sql(sql: LiteralString, params: Mapping[str, Any] | None, fetch: Fetch) -> Gen[Any]:
    """Run ``sql`` (the application's literal text, ``%(name)s`` placeholders filled from
    ``params``; a literal percent sign is ``%%``) and return its result as ``fetch`` says."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("sql must be the text of one statement", field="sql")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInput(
            "params must be a mapping of names to values, for %(name)s placeholders",
            field="params",
        )
    return (yield Stmt(Query("app_sql", sql), dict(params or {}), fetch))
