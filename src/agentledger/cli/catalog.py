"""``agentledger catalog``: versioned documents, a tenant's or the platform's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from agentledger.catalog.facade_sync import Catalog, PlatformCatalog
from agentledger.cli import common
from agentledger.errors import NotFound
from agentledger.ledger import Ledger

catalog_app = typer.Typer(
    help="The catalog: push a document's next version, show one, list them.",
    no_args_is_help=True,
)

CatalogTenant = Annotated[
    str | None, typer.Option("--tenant", help="Tenant id (or --global for the platform's).")
]
GlobalCatalog = Annotated[
    bool, typer.Option("--global", help="The global catalog, through the platform scope.")
]
DocType = Annotated[str | None, typer.Option("--type", help="Document type (domain_pack...).")]
ReadScope = Annotated[
    str | None,
    typer.Option(help="any (a tenant's own, else the global), tenant or global."),
]
# The keys a pushed file may hold around its content.
ENVELOPE = {"doc_type", "name", "content", "title", "description", "metadata", "created_by"}


def _catalog(ledger: Ledger, tenant: str | None, global_: bool) -> Catalog | PlatformCatalog:
    if (tenant is None) == (not global_):
        common.err.print("give exactly one of --tenant or --global")
        raise typer.Exit(2)
    return ledger.platform_catalog if global_ else ledger.tenant(tenant or "").catalog


def _scope(scope: str | None, global_: bool) -> str:
    return scope if scope is not None else "global" if global_ else "any"


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        common.err.print(f"{path}: not a readable JSON file ({exc})")
        raise typer.Exit(2) from None


@catalog_app.command("push")
def catalog_push(
    file: Annotated[
        str,
        typer.Argument(
            help="A JSON file ('-': standard input) holding doc_type, name and content (and "
            "optionally title, description, metadata, created_by); with --type and --name, "
            "the whole file is the content."
        ),
    ],
    tenant: CatalogTenant = None,
    global_: GlobalCatalog = False,
    doc_type: DocType = None,
    name: Annotated[str | None, typer.Option("--name", help="Document name.")] = None,
    title: Annotated[str | None, typer.Option(help="The version's title.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who writes it.")] = None,
    expected_version: Annotated[
        int | None, typer.Option(help="Write only if the document is at this version (0: new).")
    ] = None,
) -> None:
    """Add a document's next version (the same content as the latest adds none)."""
    data = _read_json(file)
    if doc_type is not None and name is not None:
        envelope: dict[str, Any] = {"content": data}
    elif isinstance(data, dict) and "content" in data and not data.keys() - ENVELOPE:
        envelope = data
    else:
        common.err.print(
            f"{file}: give --type and --name, or a JSON object of {', '.join(sorted(ENVELOPE))}"
        )
        raise typer.Exit(2)
    kind, key = doc_type or envelope.get("doc_type"), name or envelope.get("name")
    if kind is None or key is None:
        common.err.print(f"{file}: no doc_type or name (in the file, or --type and --name)")
        raise typer.Exit(2)
    with common.open_ledger() as ledger:
        version = _catalog(ledger, tenant, global_).create_version(
            kind,
            key,
            envelope["content"],
            title=title if title is not None else envelope.get("title"),
            description=envelope.get("description"),
            metadata=envelope.get("metadata"),
            created_by=by if by is not None else envelope.get("created_by"),
            expected_version=expected_version,
        )
    owner = "global" if version.is_global else f"tenant {tenant}"
    common.out.print(
        f"{version.doc_type} [bold]{version.name}[/] version {version.version} ({owner}), "
        f"content {version.content_hash[:12]}"
    )


@catalog_app.command("show")
def catalog_show(
    name: str,
    tenant: CatalogTenant = None,
    global_: GlobalCatalog = False,
    doc_type: DocType = None,
    version: Annotated[int | None, typer.Option(help="A version (the latest if omitted).")] = None,
    scope: ReadScope = None,
) -> None:
    """Print a document's content as JSON (the latest version, or --version); what it is goes
    to standard error."""
    with common.open_ledger() as ledger:
        catalog = _catalog(ledger, tenant, global_)
        where = _scope(scope, global_)
        if doc_type is None:
            found = catalog.list_documents(name=name, scope=where, limit=20)
            if not found:
                raise NotFound(f"no document named {name!r}", field="name")
            if len(found) > 1:
                types = ", ".join(d.doc_type for d in found)
                common.err.print(
                    f"documents of several types are named {name!r} ({types}): give --type",
                )
                raise typer.Exit(2)
            doc_type = found[0].doc_type
        shown = catalog.get_version(doc_type, name, version, scope=where)
    owner = "global" if shown.is_global else f"tenant {tenant}"
    common.err.print(
        f"{shown.doc_type} {shown.name} version {shown.version} ({owner}), "
        f"{shown.created_at:%Y-%m-%d %H:%M} by {shown.created_by or '-'}"
        + (f": {shown.title}" if shown.title else ""),
        markup=False,
    )
    print(json.dumps(shown.content, indent=2, ensure_ascii=False))


@catalog_app.command("list")
def catalog_list(
    tenant: CatalogTenant = None,
    global_: GlobalCatalog = False,
    doc_type: DocType = None,
    scope: ReadScope = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Documents by type and name, with their latest version."""
    with common.open_ledger() as ledger:
        found = _catalog(ledger, tenant, global_).list_documents(
            doc_type, scope=_scope(scope, global_), limit=limit
        )
    table = Table("type", "name", "version", "owner", "title", "updated")
    for d in found:
        table.add_row(
            escape(d.doc_type),
            escape(d.name),
            str(d.latest_version),
            "global" if d.is_global else "tenant",
            escape(d.title or ""),
            f"{d.updated_at:%Y-%m-%d %H:%M}",
        )
    common.out.print(table)
