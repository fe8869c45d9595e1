"""``agentledger memory``: embedding spaces and re-embedding."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from agentledger.cli import common
from agentledger.cli.common import Tenant

memory_app = typer.Typer(
    help="Memory: embedding spaces, re-embedding, the search language.", no_args_is_help=True
)


@memory_app.command("spaces")
def memory_spaces(tenant: Tenant) -> None:
    """The tenant's embedding spaces (the default one starred)."""
    with common.open_ledger() as ledger:
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
    common.out.print(table)


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

    with common.open_ledger() as ledger:
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
        with Progress(console=common.out) as bar:
            task = bar.add_task(f"re-embedding into {space}", total=total)
            stored = memory.reembed(
                space,
                model,
                batch_size=batch_size,
                make_default=make_default,
                progress=lambda n: bar.update(task, completed=n),
            )
    common.out.print(
        f"stored {stored} vectors in {space}" + (" (now the default)" if make_default else "")
    )
