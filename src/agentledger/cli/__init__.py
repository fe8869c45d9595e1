"""The ``agentledger`` command line: the database, migrations, tenants, keys, sessions,
cases, the catalog, reporting logins, the spool, and the long-running processes (server,
workers, MCP, relay). One module per command group; this one assembles them."""

from __future__ import annotations

import typer
from rich.markup import escape

from agentledger.cli import common
from agentledger.cli.cases import case_app
from agentledger.cli.catalog import catalog_app
from agentledger.cli.database import db_app, migrate
from agentledger.cli.memory import memory_app
from agentledger.cli.reporting import REPORTING_PASSWORD_ENV, reporting_app
from agentledger.cli.serving import demo, mcp, relay, serve, worker
from agentledger.cli.sessions import import_app, session_app
from agentledger.cli.spool import spool_app
from agentledger.cli.tenants import key_app, tenant_app
from agentledger.errors import LedgerError

__all__ = ["REPORTING_PASSWORD_ENV", "app", "main"]

app = typer.Typer(
    help="agentledger: the PostgreSQL system of record for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for group, name in (
    (db_app, "db"),
    (tenant_app, "tenant"),
    (key_app, "key"),
    (session_app, "session"),
    (import_app, "import"),
    (catalog_app, "catalog"),
    (case_app, "case"),
    (memory_app, "memory"),
    (spool_app, "spool"),
    (reporting_app, "reporting"),
):
    app.add_typer(group, name=name)
for command in (migrate, demo, serve, worker, mcp, relay):
    app.command()(command)


def main() -> None:
    try:
        app()
    except LedgerError as exc:
        # One line, whatever the width; the message is text, never markup.
        common.err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise SystemExit(1) from None
