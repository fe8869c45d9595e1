"""The ``agentledger`` command line: the database, migrations, tenants, keys, sessions,
cases, the catalog."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from agentledger.catalog.facade_sync import Catalog, PlatformCatalog
from agentledger.config import Settings
from agentledger.db import migrate as migrations
from agentledger.db import reporting
from agentledger.db.app_migrations import registered
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
import_app = typer.Typer(help="Import data kept elsewhere.", no_args_is_help=True)
catalog_app = typer.Typer(
    help="The catalog: push a document's next version, show one, list them.",
    no_args_is_help=True,
)
case_app = typer.Typer(help="Cases: list, show.", no_args_is_help=True)
memory_app = typer.Typer(
    help="Memory: embedding spaces, re-embedding, the search language.", no_args_is_help=True
)
spool_app = typer.Typer(
    help="The local spool of writes kept while PostgreSQL was down.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")
app.add_typer(session_app, name="session")
app.add_typer(import_app, name="import")
app.add_typer(catalog_app, name="catalog")
app.add_typer(case_app, name="case")
app.add_typer(memory_app, name="memory")
app.add_typer(spool_app, name="spool")
reporting_app = typer.Typer(
    help="Reporting logins for BI tools (read-only views): grant, revoke, list.",
    no_args_is_help=True,
)
app.add_typer(reporting_app, name="reporting")

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
    """Report whether the embedded server runs, and where, and which revisions the
    database is at: the core's and the registered application folders'."""
    settings = _settings()
    if not settings.embedded:
        out.print("using DATABASE_URL (external server)")
    else:
        status = embedded_server(settings).status()
        if not status.running:
            out.print(f"not running, data in {status.pgdata}")
            raise typer.Exit(1)
        out.print(f"running (pid {status.pid}, port {status.port}), data in {status.pgdata}")
    _print_migrations(settings, owner_url(settings, start=False))


def _print_migrations(settings: Settings, url: str) -> None:
    locations = registered(settings)
    for folder in locations:
        out.print(f"application revisions in {folder}", markup=False, highlight=False)
    try:
        found = migrations.status(url, locations)
    except LedgerError:
        raise  # a registration at fault: main() names it
    except Exception as exc:  # the server does not answer: the status above stands
        out.print(f"migrations: cannot read them ({exc})", markup=False, highlight=False)
        return
    out.print(f"at {', '.join(sorted(found.applied)) or 'base'}", markup=False, highlight=False)
    out.print(f"migrations: {found.describe()}", markup=False, highlight=False)


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
        str | None,
        typer.Option("--down", help="Downgrade to this revision (base, or <branch>@base)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 unless every revision is applied."),
    ] = False,
) -> None:
    """Apply pending migrations: the core's, then the registered application folders'
    (under an advisory lock: concurrent runs are safe)."""
    settings = _settings()
    locations = registered(settings)
    if sql:
        print(migrations.upgrade_sql(revision, app_role=settings.app_role, locations=locations))
        return
    url = owner_url(settings)
    if check:
        found = migrations.status(url, locations)
        out.print(f"migrations: {found.describe()}", markup=False, highlight=False)
        raise typer.Exit(0 if found.current else 1)
    if down is not None:
        migrations.downgrade(url, down, app_role=settings.app_role, locations=locations)
    else:
        migrations.upgrade(url, revision, app_role=settings.app_role, locations=locations)
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


@memory_app.command("spaces")
def memory_spaces(tenant: Tenant) -> None:
    """The tenant's embedding spaces (the default one starred)."""
    with _open() as ledger:
        found = ledger.tenant(tenant).memory.spaces()
    table = Table("space", "dimensions", "distance", "element", "model")
    for s in found:
        table.add_row(
            ("* " if s.default else "") + s.name,
            str(s.dimensions),
            s.distance,
            s.element,
            s.model or "-",
        )
    out.print(table)


@memory_app.command("reembed")
def memory_reembed(
    space: str,
    tenant: Tenant,
    embedder: Annotated[
        str, typer.Option(help="hashing (dependency-free, any dimension) or minilm (384).")
    ] = "hashing",
    batch_size: int = 256,
    make_default: Annotated[
        bool, typer.Option(help="Make the space the default once every entity has a vector.")
    ] = False,
) -> None:
    """Fill a declared space with the embedder's vectors of every entity that has none
    there yet; run it again to resume after an interruption."""
    from rich.progress import Progress

    from agentledger.memory import HashingEmbedder, MiniLMEmbedder

    with _open() as ledger:
        memory = ledger.tenant(tenant).memory
        target = next((s for s in memory.spaces() if s.name == space), None)
        if target is None:
            raise typer.BadParameter(f"no embedding space {space!r}", param_hint="SPACE")
        if embedder not in ("hashing", "minilm"):
            raise typer.BadParameter("hashing or minilm", param_hint="--embedder")
        model = (
            HashingEmbedder(dimensions=target.dimensions)
            if embedder == "hashing"
            else MiniLMEmbedder()
        )
        total = memory.stats().entities
        with Progress(console=out) as bar:
            task = bar.add_task(f"re-embedding into {space}", total=total)
            stored = memory.reembed(
                space,
                model,
                batch_size=batch_size,
                make_default=make_default,
                progress=lambda n: bar.update(task, completed=n),
            )
    out.print(
        f"stored {stored} vectors in {space}" + (" (now the default)" if make_default else "")
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
    from agentledger.session_import import KINDS, StoreLayout
    from agentledger.session_import import import_sessions as run_import

    if not directory.is_dir():
        err.print(f"[red]{directory} is not a directory[/]")
        raise typer.Exit(2)
    layout = StoreLayout(queue=queue, history_queue=history_queue, memory_prefix=memory_prefix)
    with _open() as ledger:
        ledger.tenants.get(tenant)  # NotFound names a missing tenant before any work
        report = run_import(ledger.tenant(tenant), directory, layout=layout, progress=True)
    table = Table("kind", "in JSON", "imported now")
    for kind in KINDS:
        table.add_row(kind, str(report.found[kind]), str(report.imported[kind]))
    out.print(table)
    for problem in report.errors:
        err.print(f"[red]skipped[/] {problem}", highlight=False)
    if report.errors:
        raise typer.Exit(1)


# Where `reporting grant --password` reads the new login's password before it prompts.
REPORTING_PASSWORD_ENV = "AGENTLEDGER_REPORTING_PASSWORD"
Login = Annotated[str, typer.Argument(help="The login role the BI tool connects as.")]


@reporting_app.command("grant")
def reporting_grant(
    role: Login,
    tenant: Annotated[str | None, typer.Option(help="The tenant it may read.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Every tenant (the platform's reporting).")
    ] = False,
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help=f"Create the role when missing; its password from {REPORTING_PASSWORD_ENV}"
            " or a prompt (never an argument).",
        ),
    ] = False,
) -> None:
    """Let a login read a tenant's rows (or every tenant's) through the reporting views."""
    reporting.check_role_name(role)  # before asking for its password
    secret = None
    if password:
        secret = os.environ.get(REPORTING_PASSWORD_ENV) or typer.prompt(
            f"password for {role}", hide_input=True, confirmation_prompt=True
        )
    url = owner_url(_settings())
    done = reporting.grant(url, role, tenant_id=tenant, all_tenants=all_tenants, password=secret)
    if done.role_created:
        out.print(f"created login role [bold]{role}[/]")
    scope = "every tenant" if done.grant.tenant_id is None else f"tenant {done.grant.tenant_id}"
    out.print(f"{role} may read {scope} through the {reporting.REPORTING_ROLE} views")
    out.print(f"connect as: {reporting.login_url(url, role)}", markup=False)


@reporting_app.command("revoke")
def reporting_revoke(
    role: Login,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's grant.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Only the every-tenant grant.")
    ] = False,
) -> None:
    """Withdraw a grant; with neither option, every grant and the role's membership (the
    login itself stays)."""
    done = reporting.revoke(owner_url(_settings()), role, tenant_id=tenant, all_tenants=all_tenants)
    out.print(
        f"withdrew {done.grants} grant(s) from {role}"
        + (
            f"; {role} is no longer a member of {reporting.REPORTING_ROLE}"
            if done.membership
            else ""
        )
    )


@reporting_app.command("list")
def reporting_list(
    role: Annotated[str | None, typer.Option(help="Only this login's grants.")] = None,
) -> None:
    """Every reporting grant: login, tenant, when, and whether the login is a member."""
    grants = reporting.list_grants(owner_url(_settings()), role)
    table = Table("role", "tenant", "granted", "member")
    for g in grants:
        table.add_row(
            g.role,
            "(every tenant)" if g.tenant_id is None else g.tenant_id,
            f"{g.granted_at:%Y-%m-%d %H:%M}",
            "yes" if g.member else "no",
        )
    out.print(table)


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
        err.print("give exactly one of --tenant or --global")
        raise typer.Exit(2)
    return ledger.platform_catalog if global_ else ledger.tenant(tenant or "").catalog


def _scope(scope: str | None, global_: bool) -> str:
    return scope if scope is not None else "global" if global_ else "any"


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        err.print(f"{path}: not a readable JSON file ({exc})")
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
        err.print(
            f"{file}: give --type and --name, or a JSON object of {', '.join(sorted(ENVELOPE))}"
        )
        raise typer.Exit(2)
    kind, key = doc_type or envelope.get("doc_type"), name or envelope.get("name")
    if kind is None or key is None:
        err.print(f"{file}: no doc_type or name (in the file, or --type and --name)")
        raise typer.Exit(2)
    with _open() as ledger:
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
    out.print(
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
    with _open() as ledger:
        catalog = _catalog(ledger, tenant, global_)
        where = _scope(scope, global_)
        if doc_type is None:
            found = catalog.list_documents(name=name, scope=where, limit=20)
            if not found:
                raise NotFound(f"no document named {name!r}", field="name")
            if len(found) > 1:
                types = ", ".join(d.doc_type for d in found)
                err.print(f"documents of several types are named {name!r} ({types}): give --type")
                raise typer.Exit(2)
            doc_type = found[0].doc_type
        shown = catalog.get_version(doc_type, name, version, scope=where)
    owner = "global" if shown.is_global else f"tenant {tenant}"
    err.print(
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
    with _open() as ledger:
        found = _catalog(ledger, tenant, global_).list_documents(
            doc_type, scope=_scope(scope, global_), limit=limit
        )
    table = Table("type", "name", "version", "owner", "title", "updated")
    for d in found:
        table.add_row(
            d.doc_type,
            d.name,
            str(d.latest_version),
            "global" if d.is_global else "tenant",
            d.title or "",
            f"{d.updated_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


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


class McpTransport(StrEnum):
    stdio = "stdio"
    http = "http"


@app.command()
def mcp(
    transport: Annotated[
        McpTransport,
        typer.Option(help="stdio (an MCP client starts this command) or http (streamable HTTP)."),
    ] = McpTransport.stdio,
    host: Annotated[str, typer.Option(help="Interface to listen on (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (http).")] = 8701,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="AGENTLEDGER_API_KEY",
            show_default=False,
            help="stdio: the API key whose tenant and role are served (prefer the env var). "
            "http takes each request's Authorization: Bearer key instead.",
        ),
    ] = None,
) -> None:
    """Serve the ledger to MCP clients (Claude Desktop, IDEs, agent frameworks): memory,
    events, decisions, alerts, tasks and sessions as tools, for an API key's tenant.
    Needs the optional mcp extra."""
    import asyncio

    try:
        from agentledger.integrations.mcp import serve_http, serve_stdio
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "mcp":
            raise
        err.print(
            "agentledger mcp needs the mcp extra: pip install 'agentledger[mcp]'", markup=False
        )
        raise typer.Exit(2) from None
    settings = _settings()
    if transport is McpTransport.http:
        err.print(f"MCP on http://{host}:{port}/mcp (Authorization: Bearer <API key>)")
        serve_http(settings, host=host, port=port)
        return
    if not api_key:
        err.print("agentledger mcp over stdio needs an API key: set AGENTLEDGER_API_KEY")
        raise typer.Exit(2)
    # stdout carries the protocol: everything else goes to stderr.
    asyncio.run(serve_stdio(settings, api_key))


@app.command()
def relay(
    nats: Annotated[
        list[str] | None,
        typer.Option("--nats", help="NATS server URL (repeat for a cluster)."),
    ] = None,
    name: Annotated[
        str, typer.Option(help="Relay name: one checkpoint and one leader lock per name.")
    ] = "default",
    tenant: Annotated[
        list[str] | None,
        typer.Option("--tenant", help="Relay only this tenant (repeatable; default: all)."),
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Relay only events of this type (repeatable)."),
    ] = None,
    stream: Annotated[str, typer.Option(help="JetStream stream (created if missing).")] = (
        "AGENTLEDGER"
    ),
    prefix: Annotated[str, typer.Option(help="Subject prefix.")] = "agentledger",
    batch_size: Annotated[int, typer.Option(help="Events published per acknowledgement.")] = 500,
    poll_interval: Annotated[float, typer.Option(help="Seconds between idle polls.")] = 1.0,
) -> None:
    """Publish every committed event to NATS JetStream as subject
    <prefix>.<tenant>.<category>, in commit-safe order, until interrupted. Runs as a leader
    (one per name) or stands by. Needs the optional nats extra."""
    import asyncio
    import logging
    import signal

    try:
        from agentledger.integrations.nats import DEFAULT_SERVERS, Relay
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "nats":
            raise
        err.print(
            "agentledger relay needs the nats extra: pip install 'agentledger[nats]'", markup=False
        )
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings()

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with AsyncLedger(settings) as ledger:
            worker = Relay(
                ledger,
                nats or DEFAULT_SERVERS,
                name=name,
                tenants=tenant or None,
                types=event_type or None,
                stream=stream,
                prefix=prefix,
                batch_size=batch_size,
                poll_interval=poll_interval,
            )
            err.print(f"relay {name}: events to {stream} as {prefix}.<tenant>.<category>")
            await worker.run(stop)
            err.print(f"relay {name}: stopped after publishing {worker.stats.published} events")

    asyncio.run(serve())


def main() -> None:
    try:
        app()
    except LedgerError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
