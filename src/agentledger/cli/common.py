"""What every command group shares: the consoles, the settings, an open ledger.

Commands print through ``common.out`` / ``common.err`` (looked up at call time) so that a
caller, a test for one, can swap in a console of another width."""

from __future__ import annotations

import importlib
from typing import Annotated, Any

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


def imported(path: str, param_hint: str, *, default: str | None = None) -> Any:
    """The callable a ``module:function`` option names (``default`` when the function is
    left out); BadParameter, naming what is missing, when it cannot be had."""
    module, colon, name = path.partition(":")
    name = name or (default or "")
    if not module or (not colon and default is None) or not name:
        raise typer.BadParameter(f"{path!r} is not module:function", param_hint=param_hint)
    try:
        found = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module}: {exc}", param_hint=param_hint) from None
    except AttributeError:
        raise typer.BadParameter(f"{module} has no {name}", param_hint=param_hint) from None
    if not callable(found):
        raise typer.BadParameter(f"{module}:{name} is not callable", param_hint=param_hint)
    return found


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
