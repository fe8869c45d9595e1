"""Partitioning benchmark: the event log as it is against the same table partitioned by
month on ``created_at``, loaded alike, on one server in one run:

- single-row appends (a transaction each, with the library's stream lock, idempotency
  look-up by event id and stream-head read) p50 / p99;
- a stream read (tenant + stream, by version) and a catch-up read (1,000 events after a
  position, in feed order) p50 / p99;
- retention of the oldest month: ``DELETE ... WHERE created_at < X`` (time, WAL, sizes,
  and the VACUUM it leaves behind) against ``DETACH PARTITION`` + ``DROP TABLE``;
- table and index sizes.

Both tables live in a scratch schema with the columns, checks, keys and indexes of
``agentledger.events`` (src/agentledger/db/schema.sql); the partitioned one must carry
``created_at`` in its primary key and unique constraints, PostgreSQL's rule for them on a
partitioned table. Rows are generated in SQL over 12 months, a few tenants, short streams
and a small JSON payload, and the indexes are built after the load, alike for both.

    python -m bench.partitioning [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from rich.table import Table

from bench.common import (
    Timing,
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure_alternately,
    progress,
    ratio_table,
)

SCHEMA = "bench_parts"
PLAIN = "events_plain"
PARTED = "events_parted"
MONTHS = 12
TENANTS = 4
STREAM_LEN = 50  # events per stream (a run's or a conversation's)

# agentledger.events as schema.sql has it (the foreign key points at a scratch tenants table).
COLUMNS = """
    tenant_id text NOT NULL REFERENCES bench_parts.tenants(id),
    "position" bigint NOT NULL,
    event_id uuid NOT NULL,
    stream text NOT NULL,
    version bigint NOT NULL,
    type text NOT NULL,
    actor_type text NOT NULL,
    actor_id text,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    commit_order xid8 DEFAULT pg_current_xact_id() NOT NULL,
    CHECK (actor_type = ANY (ARRAY['agent'::text, 'user'::text, 'system'::text])),
    CHECK (length(stream) >= 1 AND length(stream) <= 200),
    CHECK (length(type) >= 1 AND length(type) <= 200),
    CHECK (version > 0)
"""

# The same keys; on the partitioned table each one must include the partition key.
KEYS = {
    PLAIN: [
        "ALTER TABLE bench_parts.events_plain ADD PRIMARY KEY (tenant_id, position)",
        "ALTER TABLE bench_parts.events_plain ADD UNIQUE (tenant_id, event_id)",
        "ALTER TABLE bench_parts.events_plain ADD UNIQUE (tenant_id, stream, version)",
        "CREATE INDEX ON bench_parts.events_plain (tenant_id, commit_order, position)",
    ],
    PARTED: [
        "ALTER TABLE bench_parts.events_parted ADD PRIMARY KEY (tenant_id, position, created_at)",
        "ALTER TABLE bench_parts.events_parted ADD UNIQUE (tenant_id, event_id, created_at)",
        "ALTER TABLE bench_parts.events_parted ADD UNIQUE (tenant_id, stream, version, created_at)",
        "CREATE INDEX ON bench_parts.events_parted (tenant_id, commit_order, position)",
    ],
}

# One month of rows, numbered from %(first)s: tenant round-robin, a stream per
# STREAM_LEN events of a tenant, positions (and feed order) rising with time.
LOAD = """
INSERT INTO {table} (tenant_id, position, event_id, stream, version, type, actor_type,
                     actor_id, payload, created_at, commit_order)
SELECT 't' || (g %% {tenants}),
       g,
       gen_random_uuid(),
       'run-' || (g / ({tenants} * {stream_len})),
       (g %% ({tenants} * {stream_len})) / {tenants} + 1,
       (ARRAY['RunStarted', 'ToolCalled', 'MessageAdded', 'RunFinished'])[1 + g %% 4],
       'agent',
       'agent-' || (g %% 17),
       jsonb_build_object('i', g, 'tool', 'search', 'ok', g %% 7 <> 0,
                          'note', repeat('x', 40 + (g %% 80)::int)),
       %(lo)s::timestamptz + (%(hi)s::timestamptz - %(lo)s::timestamptz)
           * ((g - %(first)s)::float8 / %(count)s),
       g::text::xid8
FROM generate_series(%(first)s::bigint, %(first)s::bigint + %(count)s - 1) g
"""

APPEND = """
WITH known AS (
    SELECT 1 FROM {table} WHERE tenant_id = %(tenant)s AND event_id = %(id)s LIMIT 1
), head AS (
    SELECT coalesce(max(version), 0) AS v FROM {table}
    WHERE tenant_id = %(tenant)s AND stream = %(stream)s
)
INSERT INTO {table} (tenant_id, position, event_id, stream, version, type, actor_type,
                     payload, commit_order, created_at)
SELECT %(tenant)s, nextval('bench_parts.position'), %(id)s, %(stream)s, head.v + 1,
       'Measured', 'agent', %(payload)s, pg_current_xact_id(), now()
FROM head WHERE NOT EXISTS (SELECT 1 FROM known)
RETURNING position
"""

# The append's two look-ups as one read, for their plans.
LOOKUPS = """
SELECT (SELECT 1 FROM {table} WHERE tenant_id = %(tenant)s AND event_id = %(id)s LIMIT 1),
       (SELECT coalesce(max(version), 0) FROM {table}
        WHERE tenant_id = %(tenant)s AND stream = %(stream)s)
"""

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%(tenant)s || '/' || %(stream)s, 0))"

STREAM = """
SELECT event_id, version, type, payload, created_at FROM {table}
WHERE tenant_id = %(tenant)s AND stream = %(stream)s ORDER BY version
"""

CATCH_UP = """
SELECT event_id, stream, version, position, type, payload, created_at FROM {table}
WHERE tenant_id = %(tenant)s AND (commit_order, position) > (%(order)s::xid8, %(position)s)
ORDER BY commit_order, position LIMIT 1000
"""


def q(template: str, table: str) -> sql.Composed:
    """A statement on one of the two scratch tables (fixed names, never input)."""
    return sql.SQL(template).format(
        table=sql.Identifier(SCHEMA, table),
        tenants=sql.Literal(TENANTS),
        stream_len=sql.Literal(STREAM_LEN),
    )


def month_bounds(conn: psycopg.Connection[Any]) -> list[tuple[Any, Any]]:
    """The last MONTHS calendar months up to now, oldest first, plus next month's bounds
    (appends land in the current one; a partition ahead is how it is run)."""
    rows = conn.execute(
        "SELECT m, m + interval '1 month' FROM generate_series("
        " date_trunc('month', now()) - make_interval(months => %s),"
        " date_trunc('month', now()) + interval '1 month', interval '1 month') m ORDER BY m",
        [MONTHS - 1],
    ).fetchall()
    return [(lo, hi) for lo, hi in rows]


def create(conn: psycopg.Connection[Any], months: list[tuple[Any, Any]]) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    conn.execute("CREATE TABLE bench_parts.tenants (id text PRIMARY KEY)")
    conn.execute(
        "INSERT INTO bench_parts.tenants SELECT 't' || i FROM generate_series(0, %s) i",
        [TENANTS - 1],
    )
    conn.execute("CREATE SEQUENCE bench_parts.position")
    conn.execute(sql.SQL("CREATE TABLE bench_parts.events_plain (" + COLUMNS + ")"))
    conn.execute(
        sql.SQL(
            "CREATE TABLE bench_parts.events_parted ("
            + COLUMNS
            + ") PARTITION BY RANGE (created_at)"
        )
    )
    for lo, hi in months:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} PARTITION OF bench_parts.events_parted"
                " FOR VALUES FROM ({}) TO ({})"
            ).format(sql.Identifier(SCHEMA, partition_name(lo)), sql.Literal(lo), sql.Literal(hi))
        )


def partition_name(lo: Any) -> str:
    return f"events_{lo:%Y_%m}"


def load(conn: psycopg.Connection[Any], rows: int, months: list[tuple[Any, Any]]) -> None:
    """``rows`` events over the MONTHS months (the current one up to now), into both
    tables, a chunk at a time; then the keys and indexes, then ANALYZE."""
    now = scalar(conn, "SELECT now()")
    loaded = months[:MONTHS]
    per_month = rows // MONTHS
    chunk = max(1, min(per_month, 250_000))
    # Both tables' index builds sort in memory alike (the default 64 MB spills at 10M).
    conn.execute("SET maintenance_work_mem = '512MB'")
    with progress() as bar:
        task = bar.add_task(f"load {rows:,} rows x 2 tables", total=2 * per_month * MONTHS)
        first = 1
        for lo, hi in loaded:
            hi = min(hi, now)
            for start in range(0, per_month, chunk):
                count = min(chunk, per_month - start)
                # The chunk's share of the month, so times rise with positions.
                span = hi - lo
                params = {
                    "first": first,
                    "count": count,
                    "lo": lo + span * (start / per_month),
                    "hi": lo + span * ((start + count) / per_month),
                }
                for table in (PLAIN, PARTED):
                    conn.execute(q(LOAD, table), params)
                    bar.advance(task, count)
                first += count
        conn.execute("SELECT setval('bench_parts.position', %s)", [first])
        task = bar.add_task("keys and indexes", total=2 * len(KEYS[PLAIN]) + 1)
        for table in (PLAIN, PARTED):
            for ddl in KEYS[table]:
                conn.execute(ddl)
                bar.advance(task)
        conn.execute("VACUUM ANALYZE bench_parts.events_plain")
        conn.execute("VACUUM ANALYZE bench_parts.events_parted")
        bar.advance(task)


def sizes(conn: psycopg.Connection[Any], table: str) -> tuple[int, int]:
    """(heap bytes, index bytes) of the table, over all its partitions."""
    row = conn.execute(
        "SELECT coalesce(sum(pg_table_size(r)), 0)::bigint,"
        " coalesce(sum(pg_indexes_size(r)), 0)::bigint"
        " FROM (SELECT %s::regclass AS r UNION"
        "       SELECT relid FROM pg_partition_tree(%s::regclass)) t",
        [f"{SCHEMA}.{table}"] * 2,
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def scalar(conn: psycopg.Connection[Any], query: LiteralString) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def wal(conn: psycopg.Connection[Any]) -> Any:
    return scalar(conn, "SELECT pg_current_wal_lsn()")


def wal_since(conn: psycopg.Connection[Any], lsn: Any) -> int:
    row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [lsn]).fetchone()
    assert row is not None
    return int(row[0])


def plan_summary(conn: psycopg.Connection[Any], stmt: sql.Composed, params: Any) -> str:
    """How many index scans a statement's plan runs and the buffers it touches."""
    row = conn.execute(
        sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ") + stmt, params
    ).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]
    scans, stack = 0, [plan]
    while stack:
        node = stack.pop()
        scans += "Index" in node["Node Type"]
        stack.extend(node.get("Plans", []))
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return f"{scans} index scans, {buffers} buffers"


def mb(n: float) -> str:
    return f"{n / 2**20:,.1f} MB"


def quantile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def cycling(items: list[dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    it: Iterator[dict[str, Any]] = iter(items * 1000)
    return lambda: next(it)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true", help="200k rows (a smoke run)")
    parser.add_argument("--rows", type=int, default=None, help="rows per table")
    parser.add_argument("--samples", type=int, default=None, help="samples per operation")
    args = parser.parse_args(argv)
    rows = args.rows or (200_000 if args.quick else 10_000_000)
    samples = args.samples or (200 if args.quick else 1000)
    reads = max(5, samples // 5)
    console.print({**machine(), "rows": f"{rows:,}"})

    with (
        bench_database("parts", fast=args.fast) as bdb,
        psycopg.connect(bdb.owner_url, autocommit=True) as conn,
    ):
        console.print(scalar(conn, "SELECT version()"))
        months = month_bounds(conn)
        create(conn, months)
        started = time.perf_counter()
        load(conn, rows, months)
        console.print(f"loaded in {time.perf_counter() - started:,.0f} s")
        before = {t: sizes(conn, t) for t in (PLAIN, PARTED)}

        rng = random.Random(7)
        streams = max(1, rows // (TENANTS * STREAM_LEN))
        # Appends: one row each to existing streams, a transaction per append.
        targets = [
            {
                "tenant": f"t{rng.randrange(TENANTS)}",
                "stream": f"run-{rng.randrange(streams)}",
                "payload": '{"i": 1, "tool": "search", "ok": true, "note": "xxxxxxxxxxxxxxxx"}',
            }
            for _ in range(samples)
        ]
        appenders: list[tuple[str, Callable[[], object]]] = []
        for table in (PLAIN, PARTED):
            nxt = cycling(targets)
            stmt = q(APPEND, table)

            def append(nxt: Callable[[], dict[str, Any]] = nxt, stmt: sql.Composed = stmt) -> None:
                params = {**nxt(), "id": uuid.uuid4()}
                with conn.transaction():
                    conn.execute(LOCK, params)
                    conn.execute(stmt, params).fetchall()

            appenders.append((table, append))
        stream_targets = [
            {"tenant": f"t{rng.randrange(TENANTS)}", "stream": f"run-{rng.randrange(streams)}"}
            for _ in range(reads)
        ]
        picked = conn.execute(
            "SELECT tenant_id, commit_order::text, position FROM bench_parts.events_plain"
            " TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT %s",
            [reads],
        ).fetchall()
        catch_targets = [{"tenant": t, "order": o, "position": p} for t, o, p in picked]
        stream_readers: list[tuple[str, Callable[[], object]]] = []
        catch_readers: list[tuple[str, Callable[[], object]]] = []
        for table in (PLAIN, PARTED):
            for readers, stmt, items in (
                (stream_readers, q(STREAM, table), stream_targets),
                (catch_readers, q(CATCH_UP, table), catch_targets),
            ):
                nxt = cycling(items)

                def read(
                    nxt: Callable[[], dict[str, Any]] = nxt, stmt: sql.Composed = stmt
                ) -> None:
                    conn.execute(stmt, nxt()).fetchall()

                readers.append((table, read))

        with progress() as bar:
            task = bar.add_task("appends and reads", total=3)
            append_t = measure_alternately(appenders, repeats=samples)
            bar.advance(task)
            stream_t = measure_alternately(stream_readers, repeats=reads)
            bar.advance(task)
            catch_t = measure_alternately(catch_readers, repeats=len(catch_targets))
            bar.advance(task)

        latency = Table(title=f"Latency at {rows:,} rows (ms)")
        for col in ("operation", "plain p50", "plain p99", "partitioned p50", "partitioned p99"):
            latency.add_column(col, justify="left" if col == "operation" else "right")
        pairs: list[tuple[Timing, Timing]] = []
        for name, (plain_t, parted_t) in (
            ("append (tx, lock, id look-up, head, insert)", append_t),
            ("stream read (~50 events by version)", stream_t),
            ("catch-up read (1,000 after a position)", catch_t),
        ):
            latency.add_row(
                name,
                *(
                    f"{quantile(t.samples, p) * 1000:.2f}"
                    for t in (plain_t, parted_t)
                    for p in (0.5, 0.99)
                ),
            )
            plain_t.label = f"{name} (plain)"
            parted_t.label = f"{name} (partitioned)"
            pairs.append((parted_t, plain_t))
        console.print(latency)
        plans = Table(title="Plans, run once each (EXPLAIN ANALYZE as the owner)")
        for col in ("statement", "plain", "partitioned"):
            plans.add_column(col)
        for name, template, params in (
            ("append's id look-up + stream head", LOOKUPS, {**targets[0], "id": uuid.uuid4()}),
            ("stream read", STREAM, stream_targets[0]),
            ("catch-up read", CATCH_UP, catch_targets[0]),
        ):
            plans.add_row(
                name, *(plan_summary(conn, q(template, t), params) for t in (PLAIN, PARTED))
            )
        console.print(plans)
        console.print(
            ratio_table(f"Partitioned / plain event table at {rows:,} rows (time ratio)", pairs)
        )

        # Retention of the oldest month, once each (it cannot be repeated on the same data).
        cutoff = months[1][0]
        retention = Table(title=f"Retention of the oldest month ({rows // MONTHS:,} rows)")
        for col in ("step", "time", "WAL", "heap + indexes after"):
            retention.add_column(col, justify="left" if col == "step" else "right")
        plain_size = sum(before[PLAIN])
        retention.add_row("plain: before", "", "", mb(plain_size))
        lsn, t0 = wal(conn), time.perf_counter()
        deleted = conn.execute(
            "DELETE FROM bench_parts.events_plain WHERE created_at < %s", [cutoff]
        ).rowcount
        delete_s, delete_wal = time.perf_counter() - t0, wal_since(conn, lsn)
        retention.add_row(
            f"plain: DELETE {deleted:,} rows",
            f"{delete_s:.2f} s",
            mb(delete_wal),
            mb(sum(sizes(conn, PLAIN))),
        )
        lsn, t0 = wal(conn), time.perf_counter()
        conn.execute("VACUUM bench_parts.events_plain")
        vacuum_s, vacuum_wal = time.perf_counter() - t0, wal_since(conn, lsn)
        retention.add_row(
            "plain: VACUUM (space reusable, not returned)",
            f"{vacuum_s:.2f} s",
            mb(vacuum_wal),
            mb(sum(sizes(conn, PLAIN))),
        )
        parted_size = sum(before[PARTED])
        retention.add_row("partitioned: before", "", "", mb(parted_size))
        oldest = sql.Identifier(SCHEMA, partition_name(months[0][0]))
        t0 = time.perf_counter()
        dropped = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(oldest)).fetchone()
        count_s = time.perf_counter() - t0
        lsn, t0 = wal(conn), time.perf_counter()
        conn.execute(
            sql.SQL("ALTER TABLE bench_parts.events_parted DETACH PARTITION {}").format(oldest)
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(oldest))
        drop_s, drop_wal = time.perf_counter() - t0, wal_since(conn, lsn)
        retention.add_row(
            f"partitioned: DETACH + DROP ({dropped[0] if dropped else 0:,} rows)",
            f"{drop_s:.3f} s",
            mb(drop_wal),
            mb(sum(sizes(conn, PARTED))),
        )
        console.print(retention)
        console.print(f"(counting the partition took {count_s:.2f} s, outside the drop)")
        drop_t = Timing("retention: DETACH + DROP (partitioned)", [drop_s])
        delete_t = Timing("retention: DELETE + VACUUM (plain)", [delete_s + vacuum_s])
        console.print(
            ratio_table(
                "Retention of one month: partitioned / plain (time ratio)", [(drop_t, delete_t)]
            )
        )

        size_table = Table(title=f"Sizes at {rows:,} rows, before retention")
        for col in ("table", "heap", "indexes", "total"):
            size_table.add_column(col, justify="left" if col == "table" else "right")
        for table in (PLAIN, PARTED):
            heap, index = before[table]
            size_table.add_row(table, mb(heap), mb(index), mb(heap + index))
        console.print(size_table)
        console.print(
            f"sizes partitioned / plain: {sum(before[PARTED]) / sum(before[PLAIN]):.2f}x; "
            f"retention WAL plain {mb(delete_wal + vacuum_wal)} vs partitioned {mb(drop_wal)}; "
            f"append p99 ratio "
            f"{quantile(append_t[1].samples, 0.99) / quantile(append_t[0].samples, 0.99):.2f}x"
        )


if __name__ == "__main__":
    main()
