"""What every benchmark shares: a throwaway server, a migrated database, timing and tables.

A benchmark measures the library and its ceiling (the same statements through raw psycopg)
in the same run on the same server, and prints ratios; nothing here is a pass/fail check.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentledger import Settings
from agentledger.db import migrate
from agentledger.db.embedded import FAST_OPTIONS, EmbeddedServer
from bench.report import latency_text

console = Console()


@dataclass
class BenchDatabase:
    owner_url: str
    settings: Settings
    app_url: str


def add_fast_flag(parser: argparse.ArgumentParser) -> None:
    """Every suite runs on a durable server unless asked for a quick one."""
    parser.add_argument(
        "--fast",
        action="store_true",
        help="an embedded server without fsync (quick local runs; labelled in the results)",
    )


def server_options(fast: bool) -> tuple[str, ...]:
    """The embedded server's options: durable as users run PostgreSQL, or ``fast``."""
    return FAST_OPTIONS if fast else ()


def durability(url: str) -> str:
    """How the server commits, for titles and the published run's header."""
    with psycopg.connect(url) as conn:
        fsync, sync = (
            str(conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0])  # type: ignore[index]
            for name in ("fsync", "synchronous_commit")
        )
    if fsync == "on" and sync == "on":
        return "durable server"
    return f"fsync {fsync}, synchronous_commit {sync}"


@contextlib.contextmanager
def shared_server(*, fast: bool = False) -> Iterator[str]:
    """DATABASE_URL, or one throwaway embedded server for a whole run (its maintenance URL)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="al-bench-") as tmp:
        server = EmbeddedServer(Path(tmp), options=server_options(fast))
        server.start()
        try:
            yield server.url("postgres")
        finally:
            server.stop("immediate")


@contextlib.contextmanager
def bench_database(name: str = "bench", *, fast: bool = False) -> Iterator[BenchDatabase]:
    """A fresh migrated database: on DATABASE_URL's server, else a throwaway embedded one,
    durable unless ``fast``."""
    from agentledger.db.connect import app_conninfo

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="al-bench-")))
        server_url = os.environ.get("DATABASE_URL")
        if not server_url:
            server = EmbeddedServer(tmp, options=server_options(fast))
            server.start()
            stack.callback(server.stop, "immediate")
            server_url = server.url("postgres")
        dbname = f"al_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{dbname}"))

        def drop() -> None:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )

        stack.callback(drop)
        migrate.upgrade(url)
        settings = Settings.build(database_url=url, data_dir=tmp)
        yield BenchDatabase(owner_url=url, settings=settings, app_url=app_conninfo(settings, url))


@dataclass
class Timing:
    label: str
    samples: list[float] = field(default_factory=list)  # seconds per repeat
    units: int = 1  # operations per repeat
    latencies: list[float] = field(default_factory=list)  # seconds per operation, when kept

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median over the repeats."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0-1) of the kept per-operation latencies, in seconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    @property
    def per_second(self) -> float:
        return self.units / self.median if self.median else float("inf")


def measure(label: str, fn: Callable[[], object], *, units: int = 1, repeats: int = 5) -> Timing:
    """Run ``fn`` ``repeats`` times after one warm-up; ``units`` operations per run."""
    fn()
    timing = Timing(label, units=units)
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        timing.samples.append(time.perf_counter() - start)
    return timing


def measure_each(
    label: str, ops: Callable[[], Sequence[Callable[[], object]]], *, repeats: int = 5
) -> Timing:
    """Single operations timed one by one, so their p50 and p99 are kept: ``ops()`` makes
    one repeat's operations (outside the clock); one warm-up repeat first."""
    (timing,) = measure_each_alternately([(label, ops)], repeats=repeats)
    return timing


def measure_each_alternately(
    contenders: list[tuple[str, Callable[[], Sequence[Callable[[], object]]]]],
    *,
    repeats: int = 5,
) -> list[Timing]:
    """``measure_each`` for several contenders, their repeats taken in turn as in
    ``measure_alternately``; the first round warms up."""
    timings = [Timing(label) for label, _ in contenders]
    for i in range(repeats + 1):
        for timing, (_, ops) in zip(timings, contenders, strict=True):
            round_ = ops()
            timing.units = len(round_)
            total = 0.0
            for op in round_:
                start = time.perf_counter()
                op()
                took = time.perf_counter() - start
                if i:
                    timing.latencies.append(took)
                total += took
            if i:
                timing.samples.append(total)
    return timings


# Every ratio printed in a run, for `python -m bench` to publish (json, Markdown, chart).
RECORDED: list[dict[str, Any]] = []


def record_growth(
    table: str, label: str, sizes: tuple[str, str], p99_ms: tuple[float, float]
) -> float:
    """Publish a growth row: the same lookup's p99 at a large size against a small one
    (``sizes`` and ``p99_ms`` are large first). Returns the time ratio."""
    ratio = p99_ms[0] / p99_ms[1]
    RECORDED.append(
        {
            "table": table,
            "scenario": f"{label} at {sizes[0]}",
            "ours_per_s": 1000 / p99_ms[0],
            "baseline": f"{label} at {sizes[1]}",
            "baseline_per_s": 1000 / p99_ms[1],
            "time_ratio": ratio,
            "spread": [0.0, 0.0],
            "repeats": 1,
        }
    )
    return ratio


def latency_record(ours: Timing, base: Timing) -> dict[str, Any]:
    """p50 and p99 in ms of each side's single operations, where both kept them."""
    if not (ours.latencies and base.latencies):
        return {}
    return {
        "latency_ms": {
            side: [round(t.percentile(q) * 1000, 3) for q in (0.5, 0.99)]
            for side, t in (("ours", ours), ("baseline", base))
        }
    }


def ratio_table(title: str, rows: list[tuple[Timing, Timing]]) -> Table:
    """Each row: (ours, baseline). Ratio > 1 means ours is slower than the baseline."""
    kept = [latency_record(ours, base) for ours, base in rows]
    for (ours, base), latency in zip(rows, kept, strict=True):
        RECORDED.append(
            {
                "table": title,
                "scenario": ours.label,
                "ours_per_s": ours.per_second,
                "baseline": base.label,
                "baseline_per_s": base.per_second,
                "time_ratio": ours.median / base.median,
                "spread": [ours.spread, base.spread],
                "repeats": len(ours.samples),
                **latency,
            }
        )
    table = Table(title=title)
    columns = ["scenario", "ours ops/s", "baseline", "baseline ops/s", "time ratio", "spread"]
    shown = any(kept)
    if shown:
        columns.append("p50 / p99 ms (ours · baseline)")
    for col in columns:
        table.add_column(col, justify="right" if col != "scenario" else "left")
    for (ours, base), latency in zip(rows, kept, strict=True):
        cells = [
            ours.label,
            f"{ours.per_second:,.0f}",
            base.label,
            f"{base.per_second:,.0f}",
            f"{ours.median / base.median:.2f}x",
            f"{ours.spread:.0%} / {base.spread:.0%}",
        ]
        if shown:
            cells.append(latency_text(latency))
        table.add_row(*cells)
    return table


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def measure_alternately(
    contenders: list[tuple[str, Callable[[], object]]],
    *,
    units: int = 1,
    repeats: int = 5,
    setup: Callable[[str], object] | None = None,
) -> list[Timing]:
    """Like ``measure`` for several contenders doing the same work, their repeats taken in
    turn (a, b, c, a, b, c, ...) so that drift on a busy machine (caches, autovacuum, a
    neighbour's load) falls on each of them alike instead of on whichever ran last. The
    first round warms up; ``setup(label)``, when given, runs untimed before every run."""
    timings = [Timing(label, units=units) for label, _ in contenders]
    for i in range(repeats + 1):
        for timing, (label, fn) in zip(timings, contenders, strict=True):
            if setup is not None:
                setup(label)
            start = time.perf_counter()
            fn()
            if i:
                timing.samples.append(time.perf_counter() - start)
    return timings


def machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "psycopg": psycopg.__version__,
    }
