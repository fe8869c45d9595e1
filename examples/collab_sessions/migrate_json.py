"""Import the JSON backend's sessions into PostgreSQL (agentledger), idempotently.

    python -m examples.collab_sessions.migrate_json DIR [--tenant collab]

The importer is agentledger's own (``agentledger import sessions DIR``, module
``agentledger.session_import``, which documents the layout, idempotency and resumption);
this entry point runs it with the queues and memory sources of this example's PostgreSQL
backend, so that the backend finds what was imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentledger import Ledger
from agentledger.ledger import TenantScope
from agentledger.session_import import (
    KINDS,
    ImportReport,
    StoreLayout,
    import_sessions as import_into,
)
from examples.collab_sessions.postgres_backend import (
    HISTORY_QUEUE,
    MEMORY_PREFIX,
    QUEUE,
    TENANT,
)

LAYOUT = StoreLayout(queue=QUEUE, history_queue=HISTORY_QUEUE, memory_prefix=MEMORY_PREFIX)


def import_sessions(
    target: Ledger | TenantScope,
    directory: str | Path,
    *,
    tenant: str = TENANT,
    progress: bool = False,
) -> ImportReport:
    """Import every session under ``directory`` into ``target``: a tenant scope, or a
    ledger (then into ``tenant``, created when missing)."""
    if isinstance(target, Ledger):
        target.tenants.create(tenant, f"Collaborative sessions ({tenant})", exist_ok=True)
        target = target.tenant(tenant)
    return import_into(target, directory, layout=LAYOUT, progress=progress)


def main(argv: list[str] | None = None) -> int:
    """The command: 0 when everything was imported, 1 when something was skipped (each
    named on its own line), 2 when ``directory`` is not a directory (before any
    connection)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="the JSON store's directory")
    parser.add_argument("--tenant", default=TENANT)
    args = parser.parse_args(argv)
    console = Console()
    if not args.directory.is_dir():  # as `agentledger import sessions`: one line, exit 2
        print(f"{args.directory} is not a directory", file=sys.stderr)
        return 2
    with Ledger.from_env() as ledger:
        report = import_sessions(ledger, args.directory, tenant=args.tenant, progress=True)
    table = Table("kind", "in JSON", "imported now")
    for kind in KINDS:
        table.add_row(kind, str(report.found[kind]), str(report.imported[kind]))
    console.print(table)
    for error in report.errors:
        console.print(f"[red]skipped[/red] {error}", highlight=False)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
