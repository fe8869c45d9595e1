"""``agentledger tenant`` and ``agentledger key``: tenants and their API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agentledger.cli import common

tenant_app = typer.Typer(
    help="Tenants: create, list, suspend, activate, archive.", no_args_is_help=True
)
key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    tenant_id: str, name: Annotated[str | None, typer.Option(help="Display name.")] = None
) -> None:
    with common.open_ledger() as ledger:
        tenant = ledger.tenants.create(tenant_id, name)
    common.out.print(f"created tenant [bold]{tenant.id}[/] ({tenant.status})")


@tenant_app.command("list")
def tenant_list() -> None:
    with common.open_ledger() as ledger:
        tenants = ledger.tenants.list(limit=1000)
    table = Table("id", "name", "status", "created")
    for t in tenants:
        table.add_row(t.id, t.name, t.status, f"{t.created_at:%Y-%m-%d %H:%M}")
    common.out.print(table)


def _transition(action: str, tenant_id: str) -> None:
    with common.open_ledger() as ledger:
        tenant = getattr(ledger.tenants, action)(tenant_id)
    common.out.print(f"tenant [bold]{tenant.id}[/] is now {tenant.status}")


@tenant_app.command("suspend")
def tenant_suspend(tenant_id: str) -> None:
    """Suspended tenants can read but not write."""
    _transition("suspend", tenant_id)


@tenant_app.command("activate")
def tenant_activate(tenant_id: str) -> None:
    _transition("activate", tenant_id)


@tenant_app.command("archive")
def tenant_archive(tenant_id: str) -> None:
    """Archived tenants can neither read nor write."""
    _transition("archive", tenant_id)


@key_app.command("create")
def key_create(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    role: Annotated[str, typer.Option(help="admin, writer or reader.")] = "writer",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key; the secret is printed once and stored only as a hash."""
    with common.open_ledger() as ledger:
        created = ledger.tenant(tenant).keys.create(role=role, name=name)
    common.err.print(f"key {created.key.id} ({created.key.role}) for tenant {tenant}:")
    print(created.secret)


@key_app.command("list")
def key_list(tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    with common.open_ledger() as ledger:
        keys = ledger.tenant(tenant).keys.list(include_revoked=True)
    table = Table("id", "name", "role", "prefix", "last used", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.role,
            k.prefix,
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
            "yes" if k.revoked_at else "",
        )
    common.out.print(table)


@key_app.command("revoke")
def key_revoke(key_id: str, tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    with common.open_ledger() as ledger:
        ledger.tenant(tenant).keys.revoke(key_id)
    common.out.print(f"revoked {key_id}")
