"""``agentledger case``: cases and their timelines."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from agentledger.cases.fields import FIELDS
from agentledger.cli import common
from agentledger.cli.common import Tenant
from agentledger.errors import NotFound

case_app = typer.Typer(help="Cases: list, show.", no_args_is_help=True)
# What ``show`` lists: a case's identity, its fields (title, body and attrs have places of
# their own) and its dates.
SHOWN = (
    "kind",
    "ref",
    "status",
    "version",
    *(f for f in FIELDS if f not in ("title", "body", "attrs")),
    "created_at",
    "opened_at",
    "resolved_at",
)


@case_app.command("list")
def case_list(
    tenant: Tenant,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    status: Annotated[list[str] | None, typer.Option(help="Only this status (repeatable).")] = None,
    severity: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    domain: Annotated[str | None, typer.Option(help="Only this domain.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner.")] = None,
    entity: Annotated[str | None, typer.Option(help="Only cases about this entity.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open cases.")] = False,
    breached: Annotated[bool, typer.Option("--breached", help="Only open past SLA.")] = False,
    order: Annotated[
        str, typer.Option(help="score, created_at, updated_at, severity or sla_deadline.")
    ] = "created_at",
    limit: int = 50,
) -> None:
    """Cases matching the filters, one page in the chosen order."""
    with common.open_ledger() as ledger:
        page = ledger.tenant(tenant).cases.list(
            kind=kind,
            status=status or None,
            severity=severity,
            domain=domain,
            owner=owner,
            entity=entity,
            open=True if open_only else None,
            sla_breached=breached,
            order=order,
            limit=limit,
        )
    table = Table("id", "ref", "kind", "status", "severity", "score", "title", "owner", "created")
    for c in page.items:
        table.add_row(
            str(c.id),
            c.ref or "-",
            c.kind,
            c.status,
            c.severity or "-",
            "-" if c.score is None else f"{c.score:g}",
            escape(c.title),
            escape(c.owner or "-"),
            f"{c.created_at:%Y-%m-%d %H:%M}",
        )
    common.out.print(table)
    if page.next_cursor:
        common.out.print(f"more than {limit}: narrow the filters or raise --limit")


@case_app.command("show")
def case_show(
    case: Annotated[str, typer.Argument(help="The case's id or external ref.")],
    tenant: Tenant,
    kind: Annotated[str | None, typer.Option(help="The kind, when a ref is not unique.")] = None,
) -> None:
    """A case's fields and its timeline."""
    with common.open_ledger() as ledger:
        cases = ledger.tenant(tenant).cases
        try:
            found = cases.get(uuid.UUID(case))
        except (ValueError, NotFound):  # not an id: a ref
            found = cases.get_by_ref(case, kind=kind)
        events = cases.timeline(found.id)
    fields = Table.grid(padding=(0, 2))
    for name in SHOWN:
        value = getattr(found, name)
        if value is not None:
            fields.add_row(name, escape(str(value)))
    if found.attrs:
        fields.add_row("attrs", escape(str(found.attrs)))
    title = f"[bold]{escape(found.title)}[/] {found.id}"
    common.out.print(Panel(fields, title=title, subtitle=escape(found.status)))
    if found.body:
        common.out.print(found.body, markup=False)
    timeline = Table("#", "at", "type", "by", "payload", title="timeline")
    for e in events:
        payload = {k: v for k, v in e.payload.items() if k != "case_id"}
        timeline.add_row(
            str(e.version),
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            escape(e.type),
            escape(e.actor_id or "-"),
            escape(str(payload)),
        )
    common.out.print(timeline)
