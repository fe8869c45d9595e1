"""``agentledger tenant`` and ``agentledger key``: tenants and their API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from agentledger.cli import common
from agentledger.tenants.records import MAX_PURGE_BATCH, PURGE_BATCH

tenant_app = typer.Typer(
    help="Tenants: create, list, suspend, activate, archive, purge.", no_args_is_help=True
)
key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    tenant_id: str, name: Annotated[str | None, typer.Option(help="Display name.")] = None
) -> None:
    with common.open_ledger() as ledger:
        tenant = ledger.tenants.create(tenant_id, name)
    common.out.print(f"created tenant [bold]{tenant.id}[/] ({tenant.status})")


# Tenants read per page by ``tenant list`` (which lists them all).
LIST_PAGE = 1000


@tenant_app.command("list")
def tenant_list() -> None:
    table = Table("id", "name", "status", "created")
    with common.open_ledger() as ledger:
        after = ""
        while page := ledger.tenants.list(after=after, limit=LIST_PAGE):
            for t in page:
                table.add_row(t.id, escape(t.name), t.status, f"{t.created_at:%Y-%m-%d %H:%M}")
            after = page[-1].id
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


@tenant_app.command("purge")
def tenant_purge(
    tenant_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking.")] = False,
    batch_size: Annotated[
        int, typer.Option(help="Rows deleted per transaction.", min=1, max=MAX_PURGE_BATCH)
    ] = PURGE_BATCH,
) -> None:
    """Delete an archived tenant and every row it holds, in every table. Irreversible."""
    with common.open_ledger() as ledger:
        tenant = ledger.tenants.get(tenant_id)
        if tenant.status != "archived":
            common.err.print(
                f"[red]error:[/] tenant {tenant.id} is {tenant.status}: archive it before "
                f"purging (agentledger tenant archive {tenant.id})"
            )
            raise typer.Exit(1)
        held = ledger.tenants.rows(tenant_id)
        table = Table("table", "rows")
        for name, count in held.items():
            table.add_row(name, f"{count:,}")
        common.out.print(table)
        total = sum(held.values())
        if not yes and not typer.confirm(
            f"Delete these {total:,} rows and tenant {tenant_id}?", default=False
        ):
            common.out.print("nothing deleted")
            raise typer.Exit(1)
        with Progress(console=common.out) as bar:
            task = bar.add_task(f"purging {tenant_id}", total=total)
            result = ledger.tenants.purge(
                tenant_id,
                batch_size=batch_size,
                progress=lambda _table, count: bar.advance(task, count),
            )
    rows = "row" if result.total == 1 else "rows"
    common.out.print(
        f"purged tenant [bold]{tenant_id}[/]: {result.total:,} {rows} in {result.batches} batches"
    )


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
            escape(k.name),
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
