"""``agentledger spool``: the writes kept locally while PostgreSQL was down."""

from __future__ import annotations

import typer

from agentledger.cli import common
from agentledger.config import Settings
from agentledger.ledger import Ledger

spool_app = typer.Typer(
    help="The local spool of writes kept while PostgreSQL was down.", no_args_is_help=True
)


def _spool_settings() -> Settings:
    settings = common.settings()
    if settings.spool_dir is None:
        common.err.print("[yellow]No spool: set AGENTLEDGER_SPOOL_DIR.[/]")
        raise typer.Exit(2)
    return settings


@spool_app.command("status")
def spool_status() -> None:
    """How many writes wait in the spool, and how many were refused (dead letters)."""
    from agentledger.ledger import spool_status_of

    status = spool_status_of(_spool_settings())
    common.out.print(
        f"spool {status.directory}: {status.pending} pending, {status.dead} dead"
        + (f", oldest {status.oldest}" if status.oldest else "")
    )


@spool_app.command("replay")
def spool_replay() -> None:
    """Apply the spooled writes now, in order, exactly once."""
    with Ledger(_spool_settings()).open() as ledger:
        applied = ledger.replay_spool()
        status = ledger.spool_status()
    assert status is not None
    common.out.print(f"applied {applied}; {status.pending} still pending, {status.dead} dead")
    if status.pending:
        raise typer.Exit(1)
