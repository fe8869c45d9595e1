"""Run the reliability and security scenarios, then publish the table.

    python -m chaos [--quick] [--only pg_kill,concurrency,...]

Each scenario starts the real processes it breaks (its own PostgreSQL, API processes,
workers). Results land in chaos/results/latest.json and in the table of
docs/reliability.md (with --only, in place of those scenarios' rows of the last run). The
exit status is 1 when a scenario that ran failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rich.table import Table

from chaos.common import NotRun, Result, console

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- chaos:table -->", "<!-- /chaos:table -->"
SCENARIOS = [
    "pg_kill",
    "concurrency",
    "reorder",
    "rls",
    "bola",
    "api_kill",
    "spool_outage",
    "task_kill",
    "flood",
    "partition",
    "disk_full",
    "unsynced",
    "fuzz",
]


def run_one(name: str, quick: bool) -> list[Result]:
    """The scenario's rows: its own, then any control rows it adds (each timed by it)."""
    module = importlib.import_module(f"chaos.{name}")
    started = time.monotonic()
    try:
        ran: Result | list[Result] = module.run(quick)
        rows = ran if isinstance(ran, list) else [ran]
    except NotRun as why:
        rows = [Result(module.NAME, module.METHOD, passed=None, reason=str(why))]
    # A scenario that broke is a failure, with its reason (groups of failures included).
    except (Exception, BaseExceptionGroup) as exc:
        console.print(traceback.format_exc())
        rows = [
            Result(module.NAME, module.METHOD, passed=False, reason=f"{type(exc).__name__}: {exc}")
        ]
    for row in rows:
        row.module = name
        row.seconds = row.seconds or round(time.monotonic() - started, 1)
    return rows


def merged(results: list[Result], meta: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """The rows of the last run in ``out`` with those of the scenarios run now in their
    place, so that ``--only`` updates its rows and keeps the others (same mode only)."""
    rows = [r.as_json() for r in results]
    try:
        previous = json.loads((out / "latest.json").read_text())
    except (OSError, ValueError):
        return rows
    if previous["machine"]["quick"] != meta["quick"]:
        return rows
    names = {importlib.import_module(f"chaos.{m}").NAME: m for m in SCENARIOS}
    by_module: dict[str, list[dict[str, Any]]] = {}
    for row in previous["results"]:
        module = row.get("module") or names.get(row["scenario"], "")
        by_module.setdefault(module, []).append({**row, "module": module})
    for row in rows:
        by_module.pop(row["module"], None)
    for row in rows:
        by_module.setdefault(row["module"], []).append(row)
    order = {m: i for i, m in enumerate(SCENARIOS)}
    return [r for m in sorted(by_module, key=lambda m: order.get(m, 99)) for r in by_module[m]]


def verdict(result: Result | dict[str, Any]) -> str:
    passed = result["passed"] if isinstance(result, dict) else result.passed
    return "not run" if passed is None else ("pass" if passed else "FAIL")


def table(results: list[Result]) -> Table:
    out = Table(title="agentledger reliability and security")
    for col in ("scenario", "operations", "faults", "acked", "lost", "dup", "leaked", "result"):
        out.add_column(col, justify="left" if col in ("scenario", "result") else "right")
    for r in results:
        style = {"pass": "green", "FAIL": "bold red", "not run": "yellow"}[verdict(r)]
        note = f" ({r.reason})" if r.reason else ""
        out.add_row(
            r.scenario,
            f"{r.operations:,}",
            f"{r.faults:,}",
            f"{r.acknowledged:,}",
            str(r.lost),
            str(r.duplicated),
            str(r.leaked),
            f"[{style}]{verdict(r)}[/]{note}",
        )
    return out


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    rerun = f" Rerun alone since: {', '.join(meta['rerun'])}." if meta.get("rerun") else ""
    lines = [
        BEGIN,
        f"Run: {'--quick' if meta['quick'] else 'full'}, {meta['seconds']} s, "
        f"Python {meta['python']}, {meta['cpus']} CPUs.{rerun}",
        "",
        "| scenario | operations | faults injected | acknowledged | lost | duplicated "
        "| leaked | result | seconds |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for r in results:
        note = f": {r['reason']}" if r["reason"] else ""
        lines.append(
            f"| {r['scenario']} | {r['operations']:,} | {r['faults']:,} | {r['acknowledged']:,} "
            f"| {r['lost']} | {r['duplicated']} | {r['leaked']} | {verdict(r)}{note} "
            f"| {r['seconds']} |"
        )
    lines.append(END)
    return "\n".join(lines)


def publish(
    results: list[Result], meta: dict[str, Any], out: Path, doc: Path | None, *, only: bool
) -> None:
    """Write latest.json and the doc's table; with ``only``, merged into the last run's."""
    rows = merged(results, meta, out) if only else [r.as_json() for r in results]
    if only and len(rows) > len(results):
        previous = json.loads((out / "latest.json").read_text())["machine"]
        reran = {r.module for r in results}
        meta = {
            **previous,
            "seconds": round(sum(r["seconds"] for r in rows)),
            "rerun": [*(m for m in previous.get("rerun", []) if m not in reran), *sorted(reran)],
        }
    out.mkdir(parents=True, exist_ok=True)
    data = {"machine": meta, "results": rows}
    (out / "latest.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    if doc is not None and doc.exists():
        text = doc.read_text()
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc.write_text(head + markdown(rows, meta) + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: well under 3 min")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json goes")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/reliability.md")
    args = parser.parse_args(argv)
    # A crashed server makes the pools log every failed reconnection; the rows tell the story.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    # Stopped with SIGTERM: unwind, so that every scenario stops the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results: list[Result] = []
    names = args.only.split(",")
    for name in names:
        console.rule(f"[bold]{name}")
        for result in run_one(name, args.quick):
            console.print(f"{verdict(result)} in {result.seconds} s {result.reason}")
            results.append(result)
    meta = {
        "quick": args.quick,
        "seconds": round(time.monotonic() - started),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    console.print(table(results))
    only = set(names) != set(SCENARIOS)
    publish(results, meta, args.out, None if args.no_doc else DOC, only=only)
    return 1 if any(r.passed is False for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
