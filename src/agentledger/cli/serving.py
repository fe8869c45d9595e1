"""The commands that run until stopped: ``demo``, ``serve``, ``worker``, ``mcp``, ``relay``."""

from __future__ import annotations

import contextlib
import copy
import functools
import signal
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape

from agentledger.cli import common
from agentledger.db.connect import owner_url
from agentledger.ledger import AsyncLedger, Ledger
from agentledger.tasks.books import WorkerStats


def demo(
    tenant: Annotated[str, typer.Option(help="Demo tenant id.")] = "demo",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8700,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the console.")] = True,
) -> None:
    """Start the database (embedded unless DATABASE_URL), migrate, load a month of demo data
    into a demo tenant, and serve the API and console."""
    from rich.progress import Progress

    from agentledger import demo as demo_data

    settings = common.settings()
    with common.out.status("starting the database and applying migrations..."):
        ledger = Ledger(settings).open()
    with ledger:
        t = ledger.tenants.create(tenant, "Demo: Northwind Sales", exist_ok=True)
        scope = ledger.tenant(t.id)
        if demo_data.is_loaded(scope):
            common.out.print(f"tenant [bold]{t.id}[/] already has its demo data")
        else:
            with Progress(console=common.out) as bar:
                task = bar.add_task("loading demo data", total=35)

                def step(label: str, _n: int) -> None:
                    bar.update(task, advance=1, description=f"loading {label}")

                counts = demo_data.load(ledger, t.id, progress=step)
                bar.update(task, completed=35)
            common.out.print("loaded " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        key = scope.keys.create(role="admin", name="demo console").secret
    common.out.print(f"database: {owner_url(settings, start=False)}")
    common.out.print(
        f"console:  [bold]http://{host}:{port}/console/[/]  (sign in with the key below)",
    )
    common.out.print(f"API docs: http://{host}:{port}/docs")
    common.out.print(f"admin API key for tenant {t.id}: [bold]{key}[/]")
    if serve_:
        serve(host=host, port=port)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8700,
    access_log: Annotated[
        bool, typer.Option(help="Log each request: method, path, status, time, request id.")
    ] = True,
    shutdown_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            help="Seconds a stopping server waits for requests under way before it cancels "
            "them (open event streams end at once).",
        ),
    ] = 10,
) -> None:
    """Serve the HTTP API (and console) on the configured database, migrating first."""
    from agentledger.api import create_app
    from agentledger.api.server import run

    settings = common.settings()
    common.out.print(f"agentledger on http://{host}:{port}  (API docs at /docs)")
    run(
        create_app(settings),
        shutdown_timeout=shutdown_timeout,
        host=host,
        port=port,
        log_config=log_config(access_log=access_log),
        # The API's own request line replaces uvicorn's: it has the request id and the time.
        access_log=False,
    )


def log_config(*, access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, with the API's loggers ("agentledger.api": one line per request
    when ``access_log``) on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["agentledger"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    config["loggers"]["agentledger.api"] = {"level": "INFO" if access_log else "WARNING"}
    return config


def worker(
    queue: Annotated[str, typer.Argument(help="Queue to work on.")],
    handler: Annotated[
        str | None,
        typer.Argument(
            help="Handler import path, module:function (built in for agentledger.reindex "
            "and agentledger.reembed:SPACE)."
        ),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant id; omit with --platform to serve every tenant.")
    ] = None,
    platform: Annotated[bool, typer.Option(help="Claim fairly across all tenants.")] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            show_default=False,
            help="Handlers running at once (default: 10; for a transactional worker at most "
            "AGENTLEDGER_POOL_MAX_SIZE - 1).",
        ),
    ] = None,
    lease: Annotated[
        float, typer.Option(help="Lease seconds, 0.001 to 86400 (heartbeats renew it).")
    ] = 60.0,
    transactional: Annotated[
        bool,
        typer.Option(
            help="Call handler(task, tx): its writes through tx commit with the completion."
        ),
    ] = False,
    embedder: Annotated[
        str,
        typer.Option(
            help="For agentledger.reembed:SPACE: hashing, minilm or module:function "
            "(called with the space, returns its embedder)."
        ),
    ] = "hashing",
) -> None:
    """Run a task worker until SIGTERM / Ctrl-C (in-flight work finishes or is released).

    A coroutine function handler runs on AsyncLedger; a plain function on Ledger's threads.
    A transactional worker needs a pool larger than its concurrency
    (AGENTLEDGER_POOL_MAX_SIZE): without --concurrency it runs at most pool size - 1
    handlers at once. The memory's background queues have their handlers built in
    (transactional): ``agentledger worker agentledger.reindex --platform`` re-indexes after
    language changes, ``agentledger worker agentledger.reembed:SPACE --platform --embedder E``
    re-embeds into spaces of that name.
    """
    import asyncio
    import inspect

    from agentledger.tasks.books import WorkerOptions

    if (tenant is None) == (not platform):
        common.err.print("give exactly one of --tenant or --platform")
        raise typer.Exit(2)
    if handler is None:
        fn = builtin_handler(queue, embedder)
        transactional = True
        handler = f"the built-in handler of {queue}"
    else:
        fn = common.imported(handler, "HANDLER", default="handler")
    settings = common.settings()
    if concurrency is None:  # a transactional handler holds a connection: leave the worker one
        concurrency = max(1, min(10, settings.pool_max_size - 1)) if transactional else 10
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "lease": lease,
        "transactional": transactional,
    }
    WorkerOptions(**options)  # InvalidInput naming a bad one, before connecting
    common.out.print(
        f"working on queue [bold]{escape(queue)}[/] with {escape(str(handler))} "
        "(Ctrl-C or SIGTERM to stop)",
    )
    stops: list[Callable[[], object]] = []  # the running worker's stop, once it is made
    if inspect.iscoroutinefunction(fn):

        async def run_async() -> WorkerStats:
            async with AsyncLedger(settings) as aledger:
                tasks = aledger.platform_tasks if platform else aledger.tenant(tenant or "").tasks
                w = tasks.worker(queue, fn, **options)
                loop = asyncio.get_running_loop()
                stops.append(functools.partial(loop.call_soon_threadsafe, w.stop))
                return await w.run()

        with _ctrl_c_stops(stops):
            stats = asyncio.run(run_async())
    else:
        with Ledger(settings) as ledger:
            scope = ledger.platform_tasks if platform else ledger.tenant(tenant or "").tasks
            w = scope.worker(queue, fn, **options)
            stops.append(w.stop)
            with _ctrl_c_stops(stops):
                stats = w.run()
    common.out.print(f"stopped: {stats}")


@contextlib.contextmanager
def _ctrl_c_stops(stops: list[Callable[[], object]]) -> Iterator[None]:
    """The first Ctrl-C stops the worker as SIGTERM does (no new claims, in-flight work
    finishes within the grace or is released); a second one interrupts at once."""

    def first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for stop in stops:
            stop()

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def builtin_handler(queue: str, embedder: str) -> Any:
    """The handler of one of the memory's background queues (memory/jobs_sync.py)."""
    from agentledger.cli.memory import embedder_for
    from agentledger.memory import jobs_sync, rebuild

    if queue == rebuild.REINDEX_QUEUE:
        return jobs_sync.reindex_handler
    if queue.startswith(rebuild.REEMBED_QUEUE + ":"):
        return jobs_sync.reembed_handler(embedder_for(embedder))
    raise typer.BadParameter(
        f"{queue!r} has no built-in handler; give one as module:function", param_hint="HANDLER"
    )


class McpTransport(StrEnum):
    stdio = "stdio"
    http = "http"


def mcp(
    transport: Annotated[
        McpTransport,
        typer.Option(help="stdio (an MCP client starts this command) or http (streamable HTTP)."),
    ] = McpTransport.stdio,
    host: Annotated[str, typer.Option(help="Interface to listen on (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port (http).")] = 8701,
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
        raise common.missing_extra(exc, "mcp", "mcp") from None
    settings = common.settings()
    if transport is McpTransport.http:
        common.err.print(f"MCP on http://{host}:{port}/mcp (Authorization: Bearer <API key>)")
        serve_http(settings, host=host, port=port)
        return
    if not api_key:
        common.err.print("agentledger mcp over stdio needs an API key: set AGENTLEDGER_API_KEY")
        raise typer.Exit(2)
    # stdout carries the protocol: everything else goes to stderr.
    asyncio.run(serve_stdio(settings, api_key))


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
        raise common.missing_extra(exc, "relay", "nats") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = common.settings()

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
            common.err.print(f"relay {name}: events to {stream} as {prefix}.<tenant>.<category>")
            await worker.run(stop)
            common.err.print(
                f"relay {name}: stopped after publishing {worker.stats.published} events",
            )

    asyncio.run(serve())
