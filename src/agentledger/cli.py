"""The ``agentledger`` command line: the database, migrations, tenants, keys, sessions,
cases."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from agentledger.config import Settings
from agentledger.db import migrate as migrations
from agentledger.db.connect import embedded_server, owner_url
from agentledger.errors import LedgerError, NotFound
from agentledger.ledger import AsyncLedger, Ledger

app = typer.Typer(
    help="agentledger: the PostgreSQL system of record for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The embedded PostgreSQL server.", no_args_is_help=True)
tenant_app = typer.Typer(
    help="Tenants: create, list, suspend, activate, archive.", no_args_is_help=True
)
key_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
session_app = typer.Typer(help="Collaborative sessions: list, show, search.", no_args_is_help=True)
case_app = typer.Typer(help="Cases: list, show.", no_args_is_help=True)
spool_app = typer.Typer(
    help="The local spool of writes kept while PostgreSQL was down.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")
app.add_typer(session_app, name="session")
app.add_typer(case_app, name="case")
app.add_typer(spool_app, name="spool")

out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    return Settings.from_env()


def _embedded_only(settings: Settings) -> None:
    if not settings.embedded:
        err.print("[yellow]DATABASE_URL is set: the embedded server is not in use.[/]")
        raise typer.Exit(2)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server (it keeps running after this command exits)."""
    settings = _settings()
    _embedded_only(settings)
    with out.status("starting PostgreSQL..."):
        status = embedded_server(settings).start()
    out.print(f"running (pid {status.pid}) at [bold]{status.url()}[/]")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    settings = _settings()
    _embedded_only(settings)
    stopped = embedded_server(settings).stop()
    out.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Report whether the embedded server runs, and where."""
    settings = _settings()
    if not settings.embedded:
        out.print("using DATABASE_URL (external server)")
        return
    status = embedded_server(settings).status()
    if status.running:
        out.print(f"running (pid {status.pid}, port {status.port}), data in {status.pgdata}")
    else:
        out.print(f"not running, data in {status.pgdata}")
        raise typer.Exit(1)


@db_app.command("url")
def db_url() -> None:
    """Print the owner connection URL (for psql, pg_dump...)."""
    settings = _settings()
    print(owner_url(settings, start=False))


@db_app.command("psql")
def db_psql() -> None:
    """Open psql on the database."""
    from agentledger.db.embedded import bin_dir

    settings = _settings()
    psql = shutil.which("psql") or str(bin_dir() / "psql")
    raise typer.Exit(subprocess.call([psql, owner_url(settings)]))


@app.command()
def migrate(
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL instead of running it.")
    ] = False,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "heads",
    down: Annotated[
        str | None, typer.Option("--down", help="Downgrade to this revision (e.g. base).")
    ] = None,
) -> None:
    """Apply pending migrations (under an advisory lock: concurrent runs are safe)."""
    settings = _settings()
    if sql:
        print(migrations.upgrade_sql(revision, app_role=settings.app_role))
        return
    url = owner_url(settings)
    if down is not None:
        migrations.downgrade(url, down, app_role=settings.app_role)
    else:
        migrations.upgrade(url, revision, app_role=settings.app_role)
    out.print(f"database at {', '.join(sorted(migrations.current(url))) or 'base'}")


def _open() -> Ledger:
    return Ledger(_settings()).open()


@tenant_app.command("create")
def tenant_create(
    tenant_id: str, name: Annotated[str | None, typer.Option(help="Display name.")] = None
) -> None:
    with _open() as ledger:
        tenant = ledger.tenants.create(tenant_id, name)
    out.print(f"created tenant [bold]{tenant.id}[/] ({tenant.status})")


@tenant_app.command("list")
def tenant_list() -> None:
    with _open() as ledger:
        tenants = ledger.tenants.list(limit=1000)
    table = Table("id", "name", "status", "created")
    for t in tenants:
        table.add_row(t.id, t.name, t.status, f"{t.created_at:%Y-%m-%d %H:%M}")
    out.print(table)


def _transition(action: str, tenant_id: str) -> None:
    with _open() as ledger:
        tenant = getattr(ledger.tenants, action)(tenant_id)
    out.print(f"tenant [bold]{tenant.id}[/] is now {tenant.status}")


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
    with _open() as ledger:
        created = ledger.tenant(tenant).keys.create(role=role, name=name)
    err.print(f"key {created.key.id} ({created.key.role}) for tenant {tenant}:")
    print(created.secret)


@key_app.command("list")
def key_list(tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    with _open() as ledger:
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
    out.print(table)


@key_app.command("revoke")
def key_revoke(key_id: str, tenant: Annotated[str, typer.Option(help="Tenant id.")]) -> None:
    with _open() as ledger:
        ledger.tenant(tenant).keys.revoke(key_id)
    out.print(f"revoked {key_id}")


Tenant = Annotated[str, typer.Option(help="Tenant id.")]


@session_app.command("list")
def session_list(
    tenant: Tenant,
    status: Annotated[str | None, typer.Option(help="active, paused, completed, archived.")] = None,
    participant: Annotated[str | None, typer.Option(help="Only sessions with them.")] = None,
    limit: int = 50,
) -> None:
    with _open() as ledger:
        found = ledger.tenant(tenant).sessions.list(
            status=status, participant=participant, limit=limit
        )
    table = Table("id", "title", "status", "chunks", "artifacts", "last activity")
    for s in found:
        table.add_row(
            str(s.id),
            s.title,
            s.status,
            str(s.chunk_count),
            str(s.artifact_count),
            f"{s.last_activity:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@session_app.command("show")
def session_show(session_id: str, tenant: Tenant) -> None:
    """A session, its latest chunks and its artifacts."""
    with _open() as ledger:
        summary = ledger.tenant(tenant).sessions.get_summary(session_id, chunks=10)
    s = summary.session
    out.print(f"[bold]{s.title}[/] ({s.status}) {s.id}")
    out.print(f"participants: {', '.join(s.participants) or '-'}")
    out.print(f"chunks {s.chunk_count}, artifacts {s.artifact_count}, last {s.last_activity}")
    for c in summary.recent_chunks:
        out.print(f"  #{c.seq} {c.format} by {c.author or '-'}: {c.size} chars")
    for a in summary.artifacts:
        out.print(f"  {a.name} v{a.version} ({a.artifact_type}, {a.format}): {a.size} chars")


@session_app.command("search")
def session_search(
    query: str,
    tenant: Tenant,
    session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
    limit: int = 20,
) -> None:
    """Full-text search over conversation chunks; matches show as [[...]]."""
    with _open() as ledger:
        hits = ledger.tenant(tenant).sessions.search(query, session_id=session, limit=limit)
    for h in hits:
        snippet = h.snippet.replace("<mark>", "[[").replace("</mark>", "]]")
        out.print(f"{h.session_id} #{h.seq} @{h.offset} ({h.rank:.3f}): {snippet}", markup=False)


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
    with _open() as ledger:
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
    out.print(table)
    if page.next_cursor:
        out.print(f"more than {limit}: narrow the filters or raise --limit")


@case_app.command("show")
def case_show(
    case: Annotated[str, typer.Argument(help="The case's id or external ref.")],
    tenant: Tenant,
    kind: Annotated[str | None, typer.Option(help="The kind, when a ref is not unique.")] = None,
) -> None:
    """A case's fields and its timeline."""
    with _open() as ledger:
        cases = ledger.tenant(tenant).cases
        try:
            found = cases.get(uuid.UUID(case))
        except (ValueError, NotFound):  # not an id: a ref
            found = cases.get_by_ref(case, kind=kind)
        events = cases.timeline(found.id)
    fields = Table.grid(padding=(0, 2))
    for name in (
        "kind",
        "ref",
        "status",
        "version",
        "severity",
        "score",
        "confidence",
        "owner",
        "domain",
        "entity",
        "source",
        "type",
        "amount",
        "sla_deadline",
        "playbook",
        "playbook_step",
        "created_at",
        "opened_at",
        "resolved_at",
    ):
        value = getattr(found, name)
        if value is not None:
            fields.add_row(name, escape(str(value)))
    if found.attrs:
        fields.add_row("attrs", escape(str(found.attrs)))
    title = f"[bold]{escape(found.title)}[/] {found.id}"
    out.print(Panel(fields, title=title, subtitle=escape(found.status)))
    if found.body:
        out.print(found.body, markup=False)
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
    out.print(timeline)


def _spool_settings() -> Settings:
    settings = _settings()
    if settings.spool_dir is None:
        err.print("[yellow]No spool: set AGENTLEDGER_SPOOL_DIR.[/]")
        raise typer.Exit(2)
    return settings


@spool_app.command("status")
def spool_status() -> None:
    """How many writes wait in the spool, and how many were refused (dead letters)."""
    from agentledger.ledger import spool_status_of

    status = spool_status_of(_spool_settings())
    out.print(
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
    out.print(f"applied {applied}; {status.pending} still pending, {status.dead} dead")
    if status.pending:
        raise typer.Exit(1)


@app.command()
def demo(
    tenant: Annotated[str, typer.Option(help="Demo tenant id.")] = "demo",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8700,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the console.")] = True,
) -> None:
    """Start the database (embedded unless DATABASE_URL), migrate, load a month of demo data
    into a demo tenant, and serve the API and console."""
    from rich.progress import Progress

    from agentledger import demo as demo_data

    settings = _settings()
    with out.status("starting the database and applying migrations..."):
        ledger = Ledger(settings).open()
    with ledger:
        t = ledger.tenants.create(tenant, "Demo: Northwind Sales", exist_ok=True)
        scope = ledger.tenant(t.id)
        if demo_data.is_loaded(scope):
            out.print(f"tenant [bold]{t.id}[/] already has its demo data")
        else:
            with Progress(console=out) as bar:
                task = bar.add_task("loading demo data", total=35)

                def step(label: str, _n: int) -> None:
                    bar.update(task, advance=1, description=f"loading {label}")

                counts = demo_data.load(ledger, t.id, progress=step)
                bar.update(task, completed=35)
            out.print("loaded " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        key = scope.keys.create(role="admin", name="demo console").secret
    out.print(f"database: {owner_url(settings, start=False)}")
    out.print(f"console:  [bold]http://{host}:{port}/console/[/]  (sign in with the key below)")
    out.print(f"API docs: http://{host}:{port}/docs")
    out.print(f"admin API key for tenant {t.id}: [bold]{key}[/]")
    if serve_:
        serve(host=host, port=port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8700,
) -> None:
    """Serve the HTTP API (and console) on the configured database, migrating first."""
    import uvicorn

    from agentledger.api import create_app

    settings = _settings()
    out.print(f"agentledger on http://{host}:{port}  (API docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def worker(
    queue: Annotated[str, typer.Argument(help="Queue to work on.")],
    handler: Annotated[str, typer.Argument(help="Handler import path, module:function.")],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant id; omit with --platform to serve every tenant.")
    ] = None,
    platform: Annotated[bool, typer.Option(help="Claim fairly across all tenants.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Handlers running at once.")] = 10,
    lease: Annotated[float, typer.Option(help="Lease seconds (heartbeats renew it).")] = 60.0,
    transactional: Annotated[
        bool,
        typer.Option(
            help="Call handler(task, tx): its writes through tx commit with the completion."
        ),
    ] = False,
) -> None:
    """Run a task worker until SIGTERM / Ctrl-C (in-flight work finishes or is released).

    A coroutine function handler runs on AsyncLedger; a plain function on Ledger's threads.
    A transactional worker needs a pool larger than its concurrency
    (AGENTLEDGER_POOL_MAX_SIZE).
    """
    import asyncio
    import importlib
    import inspect

    if (tenant is None) == (not platform):
        err.print("give exactly one of --tenant or --platform")
        raise typer.Exit(2)
    module, _, name = handler.partition(":")
    fn = getattr(importlib.import_module(module), name or "handler")
    options = {"concurrency": concurrency, "lease": lease, "transactional": transactional}
    out.print(f"working on queue [bold]{queue}[/] with {handler} (Ctrl-C or SIGTERM to stop)")
    if inspect.iscoroutinefunction(fn):

        async def run_async() -> None:
            async with AsyncLedger(_settings()) as aledger:
                tasks = aledger.platform_tasks if platform else aledger.tenant(tenant or "").tasks
                await tasks.worker(queue, fn, **options).run()  # type: ignore[arg-type]

        asyncio.run(run_async())
        return
    with Ledger(_settings()) as ledger:
        scope = ledger.platform_tasks if platform else ledger.tenant(tenant or "").tasks
        w = scope.worker(queue, fn, **options)  # type: ignore[arg-type]
        try:
            stats = w.run()
        except KeyboardInterrupt:
            w.stop()
            raise
    out.print(f"stopped: {stats}")


def main() -> None:
    try:
        app()
    except LedgerError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
