"""Cases benchmark: a filtered listing and the supervisor's aggregate as a tenant's history
grows from 10k to 1M cases; same run:

- ``cases.list(kind=, status=, order="score")`` (two filters ordered by score, 50 a page,
  first pages and later ones through the cursor) and ``cases.aggregates(since=7 days)``,
  p50 / p99 at each size, with their plans as the application role (target: p99 grows
  <= 3x from 10k to 1M cases);
- the same two calls against raw psycopg running the library's statements (binding and
  the named queries) in one transaction as the application role.

The tenant's history grows the way a system of record's does: one case a minute, most of
them long resolved, and the same open backlog (1,000 cases: a tenth of the smaller size)
and the same week of recent resolutions at both sizes. The aggregate's counts come from
the tallies, and its ages and resolution times read the open-only and resolved_at
indexes, so its cost follows the backlog and the window, not the history; the listing
reads an index in the asked order.

    python -m bench.cases [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from agentledger import Ledger
from agentledger.cases import SEVERITIES, listing
from agentledger.cases.ops import Q
from agentledger.db import binding
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE
from agentledger.db.statements import Stmt, run_offline
from agentledger.ledger import TenantScope
from bench.common import (
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure_alternately,
    progress,
    ratio_table,
    record_growth,
)
from bench.memory import percentiles
from bench.plans import traced_plans

BIND: LiteralString = binding.QUERIES.bind_tenant.sql
TENANT = "history"
# Open cases: the same at both sizes, a tenth of the smaller history.
BACKLOG = 0.1
WINDOW = dt.timedelta(days=7)
KINDS: dict[str, dict[str, Any]] = {
    "bottleneck": {
        "statuses": ["pending", "in_progress", "resolved", "ignored"],
        "transitions": {"pending": ["in_progress", "ignored"], "in_progress": ["resolved"]},
        "terminal": ["resolved", "ignored"],
    },
    "exception": {
        "statuses": ["open", "analyzing", "resolved", "escalated"],
        "transitions": {"open": ["analyzing"], "analyzing": ["resolved", "escalated"]},
        "terminal": ["resolved"],
    },
}
OPEN = {"bottleneck": ("pending", "in_progress"), "exception": ("open", "analyzing")}
CLOSED = {"bottleneck": ("resolved", "ignored"), "exception": ("resolved", "resolved")}
COLUMNS = (
    "tenant_id, id, kind, status, title, severity, score, confidence, domain, entity, source,"
    " sla_deadline, attrs, version, created_at, updated_at, opened_at, resolved_at"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes, queries, repeats = (
        ((1_000, 10_000), 40, 3) if args.quick else ((10_000, 1_000_000), 400, 5)
    )
    console.print(machine())
    with (
        bench_database("cases", fast=args.fast) as db,
        Ledger(db.settings, migrate=False) as ledger,
    ):
        ledger.tenants.create(TENANT)
        scope = ledger.tenant(TENANT)
        for kind, spec in KINDS.items():
            scope.cases.define_kind(kind, **spec)
        owner = psycopg.connect(db.owner_url, autocommit=True)
        raw = psycopg.connect(db.app_url, autocommit=True)
        try:
            growth(scope, owner, raw, db.owner_url, sizes, queries, repeats)
        finally:
            owner.close()
            raw.close()


# --- loading ------------------------------------------------------------------------------


def row(i: int, now: dt.datetime, rng: random.Random, backlog: int) -> tuple[Any, ...]:
    """Case ``i`` of the history: opened ``i + 1`` minutes before ``now``; the newest
    ``backlog`` are open, the others resolved within six hours of opening."""
    kind = "bottleneck" if i % 2 else "exception"
    created = now - dt.timedelta(minutes=i + 1)
    is_open = i < backlog
    status = OPEN[kind][i % 2] if is_open else CLOSED[kind][(i // 2) % 2]
    resolved = None if is_open else created + dt.timedelta(minutes=1 + i % 360)
    deadline = created + dt.timedelta(hours=4) if i % 3 else None
    return (
        TENANT,
        uuid.uuid4(),
        kind,
        status,
        f"case {i} about {rng.choice(('settlement', 'claims', 'pipelines', 'feeds'))}",
        SEVERITIES[i % 4],
        round(rng.uniform(0, 10), 1),
        round(rng.random(), 2),
        f"domain {i % 20}",
        f"acct:{i % 5000}",
        ("murex", "claims", "github")[i % 3],
        deadline,
        f'{{"n": {i}}}',
        1,
        created,
        resolved or created,
        created,
        resolved,
    )


def load(
    owner: psycopg.Connection[Any], start: int, stop: int, now: dt.datetime, backlog: int
) -> None:
    """Cases ``start`` to ``stop`` by COPY as the owner, the secondary indexes dropped and
    built again after (a build is much faster than as many inserts). The row trigger that
    derives version, opened_at and resolved_at is off for the COPY, which writes them as
    it would; the tally triggers run, so the counts stay exact."""
    indexes = owner.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'agentledger'"
        " AND tablename = 'cases' AND indexname NOT IN ('cases_pkey', 'cases_ref_unique')"
    ).fetchall()
    for name, _ in indexes:
        owner.execute(sql.SQL("DROP INDEX agentledger.{}").format(sql.Identifier(name)))
    rng = random.Random(start)
    started = time.perf_counter()
    with progress() as shown:
        task = shown.add_task(f"COPY {stop - start:,} cases", total=stop - start)
        for first in range(start, stop, 50_000):
            last = min(stop, first + 50_000)
            with owner.transaction():
                owner.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [TENANT])
                owner.execute("ALTER TABLE agentledger.cases DISABLE TRIGGER cases_guard")
                with (
                    owner.cursor() as cur,
                    cur.copy(f"COPY agentledger.cases ({COLUMNS}) FROM STDIN") as copy,
                ):
                    for i in range(first, last):
                        copy.write_row(row(i, now, rng, backlog))
                owner.execute("ALTER TABLE agentledger.cases ENABLE TRIGGER cases_guard")
            shown.advance(task, last - first)
    owner.execute("SET maintenance_work_mem = '512MB'")
    for _, definition in indexes:
        owner.execute(sql.SQL(definition))
    owner.execute("VACUUM ANALYZE agentledger.cases")
    console.print(f"loaded and indexed in {time.perf_counter() - started:.0f} s")


# --- the two calls, through the library and raw -------------------------------------------


def asks(count: int) -> list[dict[str, Any]]:
    """The listings asked at both sizes: each bottleneck status, first pages and pages
    reached through a cursor (the page number is walked at run time)."""
    statuses = KINDS["bottleneck"]["statuses"]
    return [
        {"kind": "bottleneck", "status": statuses[i % 4], "order": "score", "page": i % 3}
        for i in range(count)
    ]


def listed(scope: TenantScope, ask: dict[str, Any]) -> int:
    filters = {k: v for k, v in ask.items() if k != "page"}
    page = scope.cases.list(**filters, limit=50)
    for _ in range(ask["page"]):
        if page.next_cursor is None:
            break
        page = scope.cases.list(**filters, limit=50, cursor=page.next_cursor)
    return len(page.items)


def supervisor(scope: TenantScope, now: dt.datetime) -> int:
    return scope.cases.aggregates(since=now - WINDOW, until=now, now=now).total


def raw_statements(raw: psycopg.Connection[Any], statements: list[Stmt]) -> None:
    """The library's statements for a call, straight through the driver: bind, then each."""
    with raw.transaction():
        raw.execute(BIND, {"tenant": TENANT})
        for stmt in statements:
            raw.execute(stmt.query.sql, stmt.params).fetchall()


def list_statement(ask: dict[str, Any]) -> Stmt:
    filters = {k: v for k, v in ask.items() if k != "page"}
    _, [stmt] = run_offline(listing.list_(**filters, limit=50), [[]])
    return stmt


def aggregate_statements(now: dt.datetime) -> list[Stmt]:
    window = {"now": now, "since": now - WINDOW, "until": now}
    return [
        Q.case_counts.all(kind=None, domain=None),
        Q.case_durations.one(kind=None, domain=None, **window),
    ]


def plans(owner_url: str, now: dt.datetime) -> None:
    """The two calls' plans as the application role (the listing's from inside its
    definer function)."""
    for label, stmt in (
        ("list(kind, status, order=score)", list_statement(asks(1)[0])),
        *(("aggregates", s) for s in aggregate_statements(now)),
    ):
        with psycopg.connect(owner_url) as conn, conn.transaction():
            conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [TENANT])
            assert isinstance(stmt.params, dict)
            if "cases_list_v1" in stmt.query.sql:
                shown = traced_plans(conn, stmt.query.sql, stmt.params, role=DEFAULT_APP_ROLE)
            else:
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(DEFAULT_APP_ROLE)))
                rows = conn.execute("EXPLAIN (COSTS OFF) " + stmt.query.sql, stmt.params)
                shown = "\n".join(str(r[0]) for r in rows.fetchall())
        console.print(f"[bold]plan of {label}, as {DEFAULT_APP_ROLE}:[/]")
        console.print(shown, markup=False)


def timed(call: Callable[[], object], count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return percentiles(samples)


def growth(
    scope: TenantScope,
    owner: psycopg.Connection[Any],
    raw: psycopg.Connection[Any],
    owner_url: str,
    sizes: tuple[int, int],
    queries: int,
    repeats: int,
) -> None:
    now = dt.datetime.now(dt.UTC)
    wanted = asks(queries)
    figures: dict[tuple[int, str], tuple[float, float]] = {}
    have = 0
    for size in sizes:
        load(owner, have, size, now, int(sizes[0] * BACKLOG))
        have = size
        for ask in wanted[:10]:  # warm the caches alike at both sizes
            listed(scope, ask)
        supervisor(scope, now)
        turn = iter(wanted)

        def one_listing(turn: Iterator[dict[str, Any]] = turn) -> int:
            return listed(scope, next(turn))

        figures[size, "list"] = timed(one_listing, queries)
        figures[size, "aggregate"] = timed(lambda: supervisor(scope, now), queries)
        stats = scope.cases.aggregates(since=now - WINDOW, until=now, now=now)
        console.print(
            f"{stats.total:,} cases, {stats.open:,} open, {stats.resolution.count:,} resolved "
            f"in the last {WINDOW.days} days"
        )
        for what, label in (
            ("list", "list(kind, status, order=score), 50 a page"),
            ("aggregate", f"aggregates(since={WINDOW.days} days)"),
        ):
            p50, p99 = figures[size, what]
            console.print(f"{label} at {size:,} cases: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    small, large = sizes
    plans(owner_url, now)
    for what, label in (("list", "list, two filters by score"), ("aggregate", "aggregates")):
        ratio = record_growth(
            f"cases: p99 at {large:,} vs {small:,} cases (<= 3x)",
            label,
            (f"{large:,}", f"{small:,}"),
            (figures[large, what][1], figures[small, what][1]),
        )
        console.print(
            f"p99 growth {large:,} / {small:,} cases, {label}: {ratio:.2f}x (target <= 3x)"
        )
    first = wanted[0]
    statements = aggregate_statements(now)
    rows = measure_alternately(
        [
            ("cases.list, two filters by score", lambda: listed(scope, {**first, "page": 0})),
            ("raw psycopg, same statements", lambda: raw_statements(raw, [list_statement(first)])),
            ("cases.aggregates", lambda: supervisor(scope, now)),
            ("raw psycopg, same statements ", lambda: raw_statements(raw, statements)),
        ],
        units=1,
        repeats=repeats,
    )
    console.print(
        ratio_table(
            f"cases at {large:,} (ratio > 1: slower)", [(rows[0], rows[1]), (rows[2], rows[3])]
        )
    )


if __name__ == "__main__":
    main()
