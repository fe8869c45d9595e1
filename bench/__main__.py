"""Run every benchmark in one go on one server, then publish the ratios.

    python -m bench [--quick] [--fast] [--only events,tasks,memory,api,langgraph]
    python -m bench --only events -- --singles 100   # after --: the suite's own flags

The embedded server is durable (fsync and synchronous_commit on), as users run PostgreSQL;
``--fast`` turns durability off for quick local runs, and the results say so. Each scenario
runs beside its ceiling (the same statements through raw psycopg) and its peers, in the
same run; results land in bench/results/latest.{json,md,svg}.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path

import psycopg

from bench import report
from bench.common import RECORDED, add_fast_flag, console, durability, machine, shared_server

SUITES = [
    "events",
    "tasks",
    "memory_peers",
    "memory_spaces",
    "memory",
    "memory_graph",
    "sessions",
    "cases",
    "langgraph",
    "relay",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    add_fast_flag(parser)
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites")
    parser.add_argument("--out", type=Path, default=report.RESULTS, help="where to publish")
    parser.add_argument("suite_flags", nargs="*", help="after --: flags for the suites")
    args = parser.parse_args(argv)
    meta = {**machine(), "quick": args.quick}
    started = time.monotonic()
    with shared_server(fast=args.fast) as url:
        meta["durability"] = durability(url)
        with psycopg.connect(url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            meta["postgres"] = str(row[0]) if row else "?"
            row = conn.execute("SHOW shared_buffers").fetchone()
            meta["shared_buffers"] = str(row[0]) if row else "?"
        os.environ["DATABASE_URL"] = url  # every suite on this one server
        for name in args.only.split(","):
            console.rule(f"[bold]{name}")
            module = importlib.import_module(f"bench.{name}")
            suite_started = time.monotonic()
            flags = [flag for flag, on in (("--quick", args.quick), ("--fast", args.fast)) if on]
            module.main([*flags, *args.suite_flags])
            meta[f"seconds_{name}"] = round(time.monotonic() - suite_started)
    meta["seconds"] = round(time.monotonic() - started)
    for path in report.write(RECORDED, meta, args.out):
        console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
