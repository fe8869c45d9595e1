"""``agentledger memory``: embedding spaces and re-embedding."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from agentledger.cli import common
from agentledger.cli.common import Tenant

memory_app = typer.Typer(
    help="Memory: embedding spaces, re-embedding, the search language, forgetting a user.",
    no_args_is_help=True,
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
            s.element + (f", binary x{s.rerank}" if s.quantization == "binary" else ""),
            escape(s.model or "-"),
        )
    common.out.print(table)


@memory_app.command("forget-user")
def memory_forget_user(
    user: str,
    tenant: Tenant,
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking.")] = False,
) -> None:
    """Delete every entity USER owns, with the relationships touching them. Irreversible."""
    with common.open_ledger() as ledger:
        memory = ledger.tenant(tenant).memory
        owned = memory.stats(user=user).entities
        if not yes and not typer.confirm(
            f"Delete the {owned:,} entities {user} owns in tenant {tenant}?", default=False
        ):
            common.out.print("nothing deleted")
            raise typer.Exit(1)
        deleted = memory.forget_user(user)
    common.out.print(f"deleted {deleted:,} entities of {user}")


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
    enqueue_only: Annotated[
        bool,
        typer.Option(
            help="Enqueue the batches for workers (agentledger worker "
            "agentledger.reembed:SPACE) and return."
        ),
    ] = False,
) -> None:
    """Fill a declared space with the embedder's vectors of every entity that has none
    there yet, through the task queue, working its batches here beside any workers; run it
    again to resume after an interruption."""
    from rich.progress import Progress

    with common.open_ledger() as ledger:
        memory = ledger.tenant(tenant).memory
        target = next((s for s in memory.spaces() if s.name == space), None)
        if target is None:
            raise typer.BadParameter(f"no embedding space {space!r}", param_hint="SPACE")
        model = embedder_for(embedder)
        if enqueue_only:
            status = memory.reembed(space, batch_size=batch_size, make_default=make_default)
            common.out.print(
                f"{status.missing} entities to embed into {space}: {status.batches} tasks "
                f"on queue agentledger.reembed:{space}"
            )
            return
        total = memory.reembed_status(space).missing
        with Progress(console=common.out) as bar:
            task = bar.add_task(f"re-embedding into {space}", total=total)
            status = memory.reembed(
                space,
                model,
                batch_size=batch_size,
                make_default=make_default,
                progress=lambda n: bar.update(task, completed=n),
            )
    common.out.print(
        f"stored {status.stored} vectors in {space}"
        + (" (now the default)" if status.default else "")
    )


def embedder_for(name: str) -> Any:
    """The embedder a name stands for: hashing (of each space's dimension), minilm, or a
    ``module:function`` that returns one (called with the space)."""
    from agentledger.memory import HashingEmbedder, MiniLMEmbedder

    if name == "hashing":
        return lambda space: HashingEmbedder(dimensions=space.dimensions)
    if name == "minilm":
        return MiniLMEmbedder()
    if ":" not in name:
        raise typer.BadParameter("hashing, minilm or module:function", param_hint="--embedder")
    return common.imported(name, "--embedder")


@memory_app.command("language")
def memory_language(
    tenant: Tenant,
    config: Annotated[
        str | None, typer.Argument(help="A text-search configuration to switch to.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="This entity kind's language, not the tenant's.")
    ] = None,
    clear: Annotated[
        bool, typer.Option(help="With --kind: the kind follows the tenant's language again.")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Re-index here before returning.")] = False,
) -> None:
    """The tenant's full-text search language (or a kind's, with --kind) and what its
    re-index has left, and the kinds with their own; with CONFIG, switch to it (the
    re-index is enqueued for workers, or run here with --wait)."""
    if clear and (kind is None or config is not None):
        raise typer.BadParameter("--clear takes --kind and no CONFIG", param_hint="--clear")
    with common.open_ledger() as ledger:
        memory = ledger.tenant(tenant).memory
        if config is not None or clear:
            memory.set_language(config, kind=kind)
            if wait:
                _reindex(memory, memory.language_status().pending)
        status = memory.language_status(kind=kind)
        chosen = memory.languages()
    of = "" if kind is None else f" of kind {kind}"
    common.out.print(
        f"language{of} {status.language}: {status.pending} entities to re-index, "
        f"{status.batches} batches left"
    )
    if kind is None:
        for name, language in chosen.kinds.items():
            common.out.print(f"kind {name}: {language}", markup=False)


@memory_app.command("reindex")
def memory_reindex(tenant: Tenant, batch_size: int = 2000) -> None:
    """Finish the re-index after a language change here, with a progress bar."""
    with common.open_ledger() as ledger:
        memory = ledger.tenant(tenant).memory
        done = _reindex(memory, memory.language_status().pending, batch_size)
    common.out.print(f"re-indexed {done} entities")


def _reindex(memory: Any, total: int, batch_size: int = 2000) -> int:
    from rich.progress import Progress

    with Progress(console=common.out) as bar:
        task = bar.add_task("re-indexing", total=total)
        done: int = memory.reindex(
            batch_size=batch_size, progress=lambda n: bar.update(task, completed=n)
        )
        bar.update(task, completed=total)
    return done
