"""``agentledger session`` and ``agentledger import sessions``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentledger.cli import common
from agentledger.cli.common import Tenant

session_app = typer.Typer(
    help="Collaborative sessions: list, show, search, language.", no_args_is_help=True
)
import_app = typer.Typer(help="Import data kept elsewhere.", no_args_is_help=True)


@session_app.command("list")
def session_list(
    tenant: Tenant,
    status: Annotated[str | None, typer.Option(help="active, paused, completed, archived.")] = None,
    participant: Annotated[str | None, typer.Option(help="Only sessions with them.")] = None,
    limit: int = 50,
) -> None:
    with common.open_ledger() as ledger:
        found = ledger.tenant(tenant).sessions.list(
            status=status, participant=participant, limit=limit
        )
    table = Table("id", "title", "status", "chunks", "artifacts", "last activity")
    for s in found:
        table.add_row(
            str(s.id),
            escape(s.title),
            s.status,
            str(s.chunk_count),
            str(s.artifact_count),
            f"{s.last_activity:%Y-%m-%d %H:%M}",
        )
    common.out.print(table)


@session_app.command("show")
def session_show(session_id: str, tenant: Tenant) -> None:
    """A session, its latest chunks and its artifacts."""
    with common.open_ledger() as ledger:
        summary = ledger.tenant(tenant).sessions.get_summary(session_id, chunks=10)
    s = summary.session
    common.out.print(f"[bold]{escape(s.title)}[/] ({s.status}) {s.id}")
    common.out.print(f"participants: {escape(', '.join(s.participants) or '-')}")
    common.out.print(
        f"chunks {s.chunk_count}, artifacts {s.artifact_count}, last {s.last_activity}",
    )
    for c in summary.recent_chunks:
        common.out.print(f"  #{c.seq} {c.format} by {escape(c.author or '-')}: {c.size} chars")
    for a in summary.artifacts:
        kind = escape(f"{a.name} v{a.version} ({a.artifact_type}, {a.format})")
        common.out.print(f"  {kind}: {a.size} chars")


@session_app.command("search")
def session_search(
    query: str,
    tenant: Tenant,
    session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
    limit: int = 20,
) -> None:
    """Full-text search over conversation chunks; matches show as [[...]]."""
    with common.open_ledger() as ledger:
        hits = ledger.tenant(tenant).sessions.search(query, session_id=session, limit=limit)
    for h in hits:
        snippet = h.snippet.replace("<mark>", "[[").replace("</mark>", "]]")
        common.out.print(
            f"{h.session_id} #{h.seq} @{h.offset} ({h.rank:.3f}): {snippet}",
            markup=False,
        )


@session_app.command("language")
def session_language(
    session_id: str,
    tenant: Tenant,
    config: Annotated[
        str | None, typer.Argument(help="A text-search configuration to switch to.")
    ] = None,
    clear: Annotated[bool, typer.Option(help="Follow the tenant's language again.")] = False,
) -> None:
    """A session's full-text search language and what its re-index has left; with CONFIG
    (or --clear), switch (the re-index is enqueued for workers of agentledger.reindex)."""
    if clear and config is not None:
        raise typer.BadParameter("--clear takes no CONFIG", param_hint="--clear")
    with common.open_ledger() as ledger:
        sessions = ledger.tenant(tenant).sessions
        if config is not None or clear:
            sessions.set_language(session_id, config)
        own = sessions.get(session_id).language
        status = sessions.language_status(session_id)
    whose = "" if own else " (the tenant's)"
    common.out.print(
        f"language {status.language}{whose}: {status.pending} segments to re-index, "
        f"{status.batches} batches left",
        markup=False,
    )


@import_app.command("sessions")
def import_sessions(
    directory: Annotated[Path, typer.Argument(help="The JSON session store's directory.")],
    tenant: Tenant,
    queue: Annotated[str, typer.Option(help="Queue of the imported live tasks.")] = "sessions",
    history_queue: Annotated[
        str, typer.Option(help="Queue of the imported finished tasks.")
    ] = "sessions-history",
    memory_prefix: Annotated[
        str, typer.Option(help="Memories go under the source <prefix>:<session id>.")
    ] = "session",
) -> None:
    """Import a JSON session store: one transaction per session, idempotent, resumable;
    malformed files are reported and skipped (exit status 1)."""
    from agentledger.session_import import KINDS, StoreLayout, import_sessions as run_import

    if not directory.is_dir():
        common.err.print(f"[red]{escape(str(directory))} is not a directory[/]")
        raise typer.Exit(2)
    layout = StoreLayout(queue=queue, history_queue=history_queue, memory_prefix=memory_prefix)
    with common.open_ledger() as ledger:
        ledger.tenants.get(tenant)  # NotFound names a missing tenant before any work
        report = run_import(ledger.tenant(tenant), directory, layout=layout, progress=True)
    table = Table("kind", "in JSON", "imported now")
    for kind in KINDS:
        table.add_row(kind, str(report.found[kind]), str(report.imported[kind]))
    common.out.print(table)
    for problem in report.errors:
        common.err.print(f"[red]skipped[/] {escape(str(problem))}", highlight=False)
    if report.errors:
        raise typer.Exit(1)
