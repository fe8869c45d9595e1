"""The plan of the query inside a SECURITY DEFINER search function, for EXPLAIN-based checks.

EXPLAIN of ``SELECT * FROM agentledger.memory_search_name_v1(...)`` shows only a Function
Scan: PostgreSQL never inlines a definer function. So the function's one ``RETURN QUERY`` is
read back from the catalog (the text the database really runs) and copied into a temporary
SQL function with the same arguments and result, which the planner does inline; EXPLAIN of a
call with constant arguments then shows the plan the body gets inside the real function,
which is planned per call with its arguments as constants (``force_custom_plan``). Run it as
the role that owns the function, with the tenant bound, for that role's view of the rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

_BODY = re.compile(r"RETURN QUERY\s+(.*?);\s*END\s*$", re.S)


def body_plan(
    conn: psycopg.Connection[Any],
    function: str,
    args: Mapping[str, Any],
    *,
    analyze: bool = False,
) -> str:
    """EXPLAIN (COSTS OFF) of ``agentledger.<function>``'s body called with ``args``
    (argument names without the ``p_`` prefix); ANALYZE runs it. Call inside a transaction."""
    found = conn.execute(
        "SELECT p.prosrc, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid)"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'agentledger' AND p.proname = %s",
        [function],
    ).fetchone()
    if found is None:
        raise LookupError(f"no function agentledger.{function}")
    source, arguments, result = found
    match = _BODY.search(source)
    if match is None:
        raise LookupError(f"agentledger.{function} is not one RETURN QUERY")
    copy = sql.Identifier("pg_temp", f"{function}_body")
    conn.execute(
        sql.SQL("CREATE OR REPLACE FUNCTION {}({}) RETURNS {} LANGUAGE sql STABLE AS {}").format(
            copy, sql.SQL(arguments), sql.SQL(result), sql.Literal(match.group(1))
        )
    )
    call = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(f"p_{name}"), sql.Literal(value))
        for name, value in args.items()
    )
    options = "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON" if analyze else "COSTS OFF"
    rows = conn.execute(
        sql.SQL("EXPLAIN ({}) SELECT * FROM {}({})").format(sql.SQL(options), copy, call)
    ).fetchall()
    return "\n".join(r[0] for r in rows)


def traced_plans(
    conn: psycopg.Connection[Any],
    statement: str,
    params: Mapping[str, Any],
    *,
    role: str | None = None,
) -> str:
    """The plans of every statement a call runs, nested ones included (auto_explain, which
    needs a superuser; ``role`` then runs the call as that role): for functions of several
    statements, which body_plan cannot copy. Call inside a transaction."""
    notices: list[str] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(diag.message_primary or "")

    conn.add_notice_handler(keep)
    try:
        conn.execute("LOAD 'auto_explain'")
        for name, value in (
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_nested_statements", "on"),
            ("auto_explain.log_level", "notice"),
            ("client_min_messages", "notice"),
        ):
            conn.execute("SELECT set_config(%s, %s, true)", [name, value])
        if role is not None:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        conn.execute(statement, params).fetchall()
    finally:
        conn.remove_notice_handler(keep)
    return "\n".join(notices)
