"""What every command group shares: the consoles, the settings, an open ledger.

Commands print through ``common.out`` / ``common.err`` (looked up at call time) so that a
caller, a test for one, can swap in a console of another width."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from agentledger.config import Settings
from agentledger.ledger import Ledger

out = Console()
err = Console(stderr=True)

Tenant = Annotated[str, typer.Option(help="Tenant id.")]


def settings() -> Settings:
    return Settings.from_env()


def open_ledger() -> Ledger:
    return Ledger(settings()).open()


def embedded_only(found: Settings) -> None:
    """Stop a command that manages the embedded server when DATABASE_URL points elsewhere."""
    if not found.embedded:
        err.print("[yellow]DATABASE_URL is set: the embedded server is not in use.[/]")
        raise typer.Exit(2)


def missing_extra(exc: ImportError, command: str, extra: str) -> typer.Exit:
    """The exit of ``command`` when the optional ``extra`` it needs (a package of that name)
    is not installed, after saying how to install it; any other import error is raised."""
    if (exc.name or "").split(".")[0] != extra:
        raise exc
    err.print(
        f"agentledger {command} needs the {extra} extra: pip install 'agentledger[{extra}]'",
        markup=False,
    )
    return typer.Exit(2)
