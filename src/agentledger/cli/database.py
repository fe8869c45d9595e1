"""``agentledger db`` (the embedded server) and ``agentledger migrate``."""

from __future__ import annotations

import shutil
import subprocess
from typing import Annotated

import typer

from agentledger.cli import common
from agentledger.config import Settings
from agentledger.db import migrate as migrations
from agentledger.db.app_migrations import registered
from agentledger.db.connect import app_password, embedded_server, owner_url
from agentledger.errors import LedgerError

db_app = typer.Typer(help="The embedded PostgreSQL server.", no_args_is_help=True)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (it keeps running after this command exits)."""
    settings = common.settings()
    common.embedded_only(settings)
    with common.out.status("starting PostgreSQL..."):
        status = embedded_server(settings).start()
    common.out.print(f"running (pid {status.pid}) at [bold]{status.url()}[/]")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    settings = common.settings()
    common.embedded_only(settings)
    stopped = embedded_server(settings).stop()
    common.out.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Report whether the embedded server runs, and where, and which revisions the
    database is at: the core's and the registered application folders'."""
    settings = common.settings()
    if not settings.embedded:
        common.out.print("using DATABASE_URL (external server)")
    else:
        status = embedded_server(settings).status()
        if not status.running:
            common.out.print(f"not running, data in {status.pgdata}")
            raise typer.Exit(1)
        common.out.print(f"running (pid {status.pid}, port {status.port}), data in {status.pgdata}")
    _print_migrations(settings, owner_url(settings, start=False))


def _print_migrations(settings: Settings, url: str) -> None:
    locations = registered(settings)
    for folder in locations:
        common.out.print(f"application revisions in {folder}", markup=False, highlight=False)
    try:
        found = migrations.status(url, locations)
    except LedgerError:
        raise  # a registration at fault: main() names it
    except Exception as exc:  # the server does not answer: the status above stands
        common.out.print(f"migrations: cannot read them ({exc})", markup=False, highlight=False)
        return
    common.out.print(
        f"at {', '.join(sorted(found.applied)) or 'base'}",
        markup=False,
        highlight=False,
    )
    common.out.print(f"migrations: {found.describe()}", markup=False, highlight=False)


@db_app.command("url")
def db_url() -> None:
    """Print the owner connection URL (for psql, pg_dump...)."""
    settings = common.settings()
    print(owner_url(settings, start=False))


@db_app.command("psql")
def db_psql() -> None:
    """Open psql on the database."""
    from agentledger.db.embedded import bin_dir

    settings = common.settings()
    psql = shutil.which("psql") or str(bin_dir() / "psql")
    raise typer.Exit(subprocess.call([psql, owner_url(settings)]))


def migrate(
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL instead of running it.")
    ] = False,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "heads",
    down: Annotated[
        str | None,
        typer.Option(
            "--down",
            help="Downgrade to this revision: an id, <app branch>@base, or base (everything).",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 unless every revision is applied."),
    ] = False,
) -> None:
    """Apply pending migrations: the core's, then the registered application folders'
    (under an advisory lock: concurrent runs are safe)."""
    settings = common.settings()
    locations = registered(settings)
    if sql:
        print(migrations.upgrade_sql(revision, app_role=settings.app_role, locations=locations))
        return
    url = owner_url(settings)
    if check:
        found = migrations.status(url, locations)
        common.out.print(f"migrations: {found.describe()}", markup=False, highlight=False)
        raise typer.Exit(0 if found.current else 1)
    if down is not None:
        migrations.downgrade(url, down, app_role=settings.app_role, locations=locations)
    else:
        migrations.upgrade(
            url,
            revision,
            app_role=settings.app_role,
            app_password=app_password(settings),
            locations=locations,
        )
    common.out.print(f"database at {', '.join(sorted(migrations.current(url))) or 'base'}")
