"""Event log benchmark: single appends (alone and from 8 concurrent writers), batches and
catch-up reads (from the start, and from near the head of a long log), next to raw psycopg
running the same SQL in a transaction with the tenant bound, and to the eventsourcing
library's PostgreSQL recorder; the idempotent re-append cost; and a follower's lag behind 8
concurrent writers. Throughput with p50/p99.

    python -m bench.events [--quick] [--fast]

The server is durable (fsync and synchronous_commit on), as users run it; ``--fast`` starts
it without fsync for quick runs, and the tables say which it was. With DATABASE_URL the
bench runs on that server as it is configured.
"""

from __future__ import annotations

import argparse
import gc
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, LiteralString

import psycopg
from rich.table import Table

from agentledger import Ledger, NewEvent
from agentledger.db.adapters import register_adapters
from agentledger.events.follow_sync import Follower
from agentledger.events.ops import Q
from bench.common import (
    Timing,
    add_fast_flag,
    bench_database,
    console,
    durability,
    machine,
    progress,
    ratio_table,
)

APPEND = Q.append_events.sql
APPEND_ONE = Q.append_event.sql
READ_ALL = Q.read_all.sql
BIND = "SELECT agentledger.bind_tenant(%(tenant)s)"
# A contender: does one repeat's work, adding each operation's seconds to the list.
Work = Callable[[list[float]], None]


def new_events(n: int, stream: str) -> list[NewEvent]:
    return [
        NewEvent(stream=stream, type="Measured", payload={"i": i, "note": "x" * 40})
        for i in range(n)
    ]


def one(stream: str, i: int) -> NewEvent:
    return NewEvent(stream=stream, type="Measured", payload={"i": i, "note": "x" * 40})


def raw_one_params(e: NewEvent) -> dict[str, Any]:
    """The one-event append statement's parameters for ``e``, built directly (a fresh id)."""
    return {
        "event_id": str(uuid.uuid4()),
        "stream": e.stream,
        "type": e.type,
        "actor_type": e.actor_type,
        "actor_id": e.actor_id,
        "payload": json.dumps(e.payload, separators=(",", ":")),
        "metadata": json.dumps(e.metadata, separators=(",", ":")),
        "expected": None,
        "at": None,
    }


def raw_params(events: list[NewEvent]) -> dict[str, Any]:
    """The append statement's parameters for ``events``, built directly (fresh ids)."""
    return {
        "events": json.dumps(
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "stream": e.stream,
                    "type": e.type,
                    "actor_type": e.actor_type,
                    "actor_id": e.actor_id,
                    "payload": e.payload,
                    "metadata": e.metadata,
                }
                for e in events
            ],
            separators=(",", ":"),
        ),
        "expected": None,
        "dated": False,
    }


def timed(lat: list[float], fn: Callable[..., object], *args: Any) -> None:
    """``fn(*args)``, its seconds added to ``lat``."""
    start = time.perf_counter()
    fn(*args)
    lat.append(time.perf_counter() - start)


def alternate(contenders: list[tuple[str, Work]], *, units: int, repeats: int) -> list[Timing]:
    """Each contender's repeats taken in turn (a, b, c, a, b, c, ...), so a busy machine's
    drift falls on each alike; the first round warms up. Keeps per-operation latencies.
    Each repeat starts after a full garbage collection: a contender's repeat pays for the
    collections its own objects cause, not for the garbage another contender left."""
    timings = [Timing(label, units=units) for label, _ in contenders]
    for i in range(repeats + 1):
        for timing, (_, work) in zip(timings, contenders, strict=True):
            lat: list[float] = []
            gc.collect()
            start = time.perf_counter()
            work(lat)
            if i:
                timing.samples.append(time.perf_counter() - start)
                timing.latencies.extend(lat)
    return timings


def concurrently(
    pool: ThreadPoolExecutor, writers: int, work: Callable[[int, list[float]], None]
) -> Work:
    """``work(writer, latencies)`` run by ``writers`` threads at once, as one repeat."""

    def run(lat: list[float]) -> None:
        for future in [pool.submit(work, w, lat) for w in range(writers)]:
            future.result()

    return run


def latency_table(title: str, timings: list[Timing]) -> Table:
    table = Table(title=title)
    for col in ("contender", "ops/s", "p50 ms", "p99 ms", "spread"):
        table.add_column(col, justify="left" if col == "contender" else "right")
    for t in timings:
        table.add_row(
            t.label,
            f"{t.per_second:,.0f}",
            f"{t.percentile(0.5) * 1000:.2f}",
            f"{t.percentile(0.99) * 1000:.2f}",
            f"{t.spread:.0%}",
        )
    return table


class Peer:
    """eventsourcing's PostgresApplicationRecorder, configured as its docs advise (a pooled
    datastore, the default table)."""

    def __init__(self, url: str, pool_size: int) -> None:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(url)
        self.datastore = PostgresDatastore(
            dbname=str(params["dbname"]),
            host=str(params.get("host", "127.0.0.1")),
            port=str(params.get("port", 5432)),
            user=str(params.get("user", "postgres")),
            password=str(params.get("password", "")),
            pool_size=pool_size,
        )
        self.recorder = PostgresApplicationRecorder(
            self.datastore, events_table_name="es_bench_events"
        )
        self.recorder.create_table()
        self.stored = StoredEvent
        self.state = json.dumps({"i": 0, "note": "x" * 40}).encode()

    def singles(self, n: int, lat: list[float]) -> None:
        originator = uuid.uuid4()
        for version in range(1, n + 1):
            event = self.stored(originator, version, "Measured", self.state)
            timed(lat, self.recorder.insert_events, [event])

    def many(self, n: int, lat: list[float]) -> None:
        originator = uuid.uuid4()
        events = [self.stored(originator, v, "Measured", self.state) for v in range(1, n + 1)]
        timed(lat, lambda: self.recorder.insert_events(events))

    def read(self, n: int, lat: list[float], *, behind: int | None = None) -> None:
        """``n`` notifications from the start, or from ``behind`` before the last."""
        start = 1 if behind is None else max(1, (self.recorder.max_notification_id() or 0) - behind)
        timed(lat, lambda: self.recorder.select_notifications(start=start, limit=n))


def peer(url: str, pool_size: int) -> Peer | None:
    """The peer, or None when eventsourcing is not installed."""
    try:
        return Peer(url, pool_size)
    except ImportError:
        console.print("[yellow]eventsourcing is not installed (pip install '.[bench]')[/]")
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    add_fast_flag(parser)
    parser.add_argument("--singles", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args(argv)
    singles = args.singles or (50 if args.quick else 1000)
    batch = args.batch or (100 if args.quick else 1000)
    writers = args.writers
    per_writer = 20 if args.quick else 500
    repeats = 2 if args.quick else 5
    console.print(machine())

    with bench_database("events", fast=args.fast) as bdb:
        mode = durability(bdb.owner_url)
        console.print(f"server: {mode}")
        settings = bdb.settings.model_copy(update={"pool_max_size": max(10, writers + 2)})
        with Ledger(settings, migrate=False) as ledger:
            run(ledger, bdb.app_url, bdb.owner_url, mode, singles, batch, writers, repeats)
            follow(ledger, settings, writers, per_writer)


def run(
    ledger: Ledger,
    app_url: str,
    owner_url: str,
    mode: str,
    singles: int,
    batch: int,
    writers: int,
    repeats: int,
) -> None:
    tenant = "bench"
    ledger.tenants.create(tenant)
    scope = ledger.tenant(tenant)
    # Raw psycopg: autocommit sessions; a pipeline sends the binding and the statement in
    # its implicit transaction, which the Sync closing it commits (one round trip).
    raws = [psycopg.connect(app_url, autocommit=True) for _ in range(writers)]
    raw = raws[0]
    bare = psycopg.connect(app_url, autocommit=True)
    for conn in [*raws, bare]:
        register_adapters(conn)  # values travel and load as the library's do
    bare.execute("SELECT set_config('agentledger.tenant_id', %s, false)", [tenant])
    es = peer(owner_url, writers)
    counter = iter(range(10**9))
    each = max(1, singles // writers)

    def bound(
        conn: psycopg.Connection[Any], sql: LiteralString, params: dict[str, Any]
    ) -> list[Any]:
        """``sql`` after the tenant binding, both in one round trip (as the library sends)."""
        with conn.pipeline():
            conn.execute(BIND, {"tenant": tenant})
            cur = conn.execute(sql, params)
        return cur.fetchall()

    def raw_append(conn: psycopg.Connection[Any], events: list[NewEvent]) -> list[Any]:
        return bound(conn, APPEND, raw_params(events))

    def raw_one(conn: psycopg.Connection[Any], stream: str, i: int) -> list[Any]:
        return bound(conn, APPEND_ONE, raw_one_params(one(stream, i)))

    def bare_one(stream: str, i: int) -> list[Any]:
        return bare.execute(APPEND_ONE, raw_one_params(one(stream, i))).fetchall()

    def lib_single(lat: list[float]) -> None:
        stream = f"single-{next(counter)}"
        for i in range(singles):
            timed(lat, scope.events.append, stream, "Measured", {"i": i, "note": "x" * 40})

    def raw_single(lat: list[float]) -> None:
        stream = f"single-{next(counter)}"
        for i in range(singles):
            timed(lat, raw_one, raw, stream, i)

    def bare_single(lat: list[float]) -> None:
        stream = f"single-{next(counter)}"
        for i in range(singles):
            timed(lat, bare_one, stream, i)

    contenders: list[tuple[str, Work]] = [
        ("append (library)", lib_single),
        ("append (raw psycopg, tx + bind)", raw_single),
        ("append (raw, bare statement)", bare_single),
    ]
    if es is not None:
        contenders.append(("append (eventsourcing)", lambda lat: es.singles(singles, lat)))
    with progress() as bar:
        task = bar.add_task("single appends", total=1)
        single_t = alternate(contenders, units=singles, repeats=repeats)
        bar.advance(task)

    pool = ThreadPoolExecutor(writers)

    def lib_writer(w: int, lat: list[float]) -> None:
        stream = f"conc-{next(counter)}-{w}"
        for i in range(each):
            timed(lat, scope.events.append, stream, "Measured", {"i": i, "note": "x" * 40})

    def raw_writer(w: int, lat: list[float]) -> None:
        stream = f"conc-{next(counter)}-{w}"
        for i in range(each):
            timed(lat, raw_one, raws[w], stream, i)

    contenders = [
        (f"append, {writers} writers (library)", concurrently(pool, writers, lib_writer)),
        (f"append, {writers} writers (raw, tx + bind)", concurrently(pool, writers, raw_writer)),
    ]
    if es is not None:
        contenders.append(
            (
                f"append, {writers} writers (eventsourcing)",
                concurrently(pool, writers, lambda w, lat: es.singles(each, lat)),
            )
        )
    with progress() as bar:
        task = bar.add_task(f"single appends, {writers} writers", total=1)
        conc_t = alternate(contenders, units=each * writers, repeats=repeats)
        bar.advance(task)
    pool.shutdown()

    def lib_batch(lat: list[float]) -> None:
        events = new_events(batch, f"batch-{next(counter)}")
        timed(lat, lambda: scope.events.append_many(events))

    def raw_batch(lat: list[float]) -> None:
        events = new_events(batch, f"batch-{next(counter)}")
        timed(lat, lambda: raw_append(raw, events))

    def bare_batch(lat: list[float]) -> None:
        events = new_events(batch, f"batch-{next(counter)}")
        timed(lat, lambda: bare.execute(APPEND, raw_params(events)).fetchall())

    fixed = [
        NewEvent(
            stream=f"replay-{i // 100}", type="Measured", payload={"i": i}, event_id=uuid.uuid4()
        )
        for i in range(batch)
    ]
    scope.events.append_many(fixed)

    def lib_replay(lat: list[float]) -> None:
        results: list[Any] = []
        timed(lat, lambda: results.extend(scope.events.append_many(fixed)))
        assert all(r.already_appended for r in results)

    contenders = [
        (f"append_many {batch} (library)", lib_batch),
        (f"{batch} (raw, tx + bind)", raw_batch),
        (f"{batch} (raw, bare)", bare_batch),
        (f"re-append {batch} known ids", lib_replay),
    ]
    if es is not None:
        contenders.append((f"insert {batch} (eventsourcing)", lambda lat: es.many(batch, lat)))
    with progress() as bar:
        task = bar.add_task(f"{batch}-event batches", total=1)
        batch_t = alternate(contenders, units=batch, repeats=repeats)
        bar.advance(task)

    def lib_read(lat: list[float]) -> None:
        got: list[Any] = []
        timed(lat, lambda: got.extend(scope.events.read_all(0, limit=batch)))
        assert len(got) == batch

    def raw_read(lat: list[float]) -> None:
        timed(lat, bound, raw, READ_ALL, {"after": 0, "types": None, "limit": batch})

    # A follower near the head of the log: its cursor is 2 reads' worth of events behind it.
    row = bare.execute(
        "SELECT position FROM agentledger.events ORDER BY commit_order DESC, position DESC"
        " OFFSET %s LIMIT 1",
        [2 * batch],
    ).fetchone()
    assert row is not None
    deep = row[0]

    def lib_deep_read(lat: list[float]) -> None:
        got: list[Any] = []
        timed(lat, lambda: got.extend(scope.events.read_all(deep, limit=batch)))
        assert len(got) == batch

    contenders = [
        (f"catch-up read {batch} (library)", lib_read),
        (f"catch-up read {batch} (raw, tx + bind)", raw_read),
        (f"read {batch} near the head (library)", lib_deep_read),
    ]
    if es is not None:
        contenders += [
            (f"select_notifications {batch} (eventsourcing)", lambda lat: es.read(batch, lat)),
            (
                f"select_notifications {batch} near the head (eventsourcing)",
                lambda lat: es.read(batch, lat, behind=2 * batch),
            ),
        ]
    with progress() as bar:
        task = bar.add_task(f"catch-up reads of {batch}", total=1)
        read_t = alternate(contenders, units=batch, repeats=repeats)
        bar.advance(task)

    rows = [
        (single_t[0], single_t[1]),
        (single_t[0], single_t[2]),
        (conc_t[0], conc_t[1]),
        (batch_t[0], batch_t[1]),
        (batch_t[0], batch_t[2]),
        (batch_t[3], batch_t[0]),
        (read_t[0], read_t[1]),
    ]
    console.print(
        ratio_table(f"Event log: library vs raw psycopg, {mode} (ratio > 1: slower)", rows)
    )
    if es is not None:
        console.print(
            ratio_table(
                f"Event log: library vs the eventsourcing library's PostgreSQL recorder, {mode}",
                [
                    (single_t[0], single_t[3]),
                    (conc_t[0], conc_t[2]),
                    (batch_t[0], batch_t[4]),
                    (read_t[0], read_t[3]),
                    (read_t[2], read_t[4]),
                ],
            )
        )
        es.datastore.close()
    console.print(
        latency_table(f"Event log latencies, {mode}", [*single_t, *conc_t, *batch_t, *read_t])
    )
    for conn in [*raws, bare]:
        conn.close()


def follow(ledger: Ledger, settings: Any, writers: int, per_writer: int) -> None:
    """A follower while ``writers`` writers append concurrently: it must see every event."""
    tenant = "bench"
    acknowledged = [0]
    lock = threading.Lock()
    lags: list[int] = []
    seen = [0]
    with Follower(ledger.db, tenant, "bench-follower", poll_interval=0.05) as follower:
        follower.position = 0
        while follower.poll():  # skip what earlier scenarios wrote
            pass

        def write(w: int) -> None:
            with Ledger(settings, migrate=False) as mine:
                events = mine.tenant(tenant).events
                for i in range(per_writer):
                    if i % 10 == 0:
                        events.append_many(new_events(10, f"w{w}"))
                        n = 10
                    else:
                        events.append(f"w{w}", "Measured", {"i": i})
                        n = 1
                    with lock:
                        acknowledged[0] += n

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        with progress() as bar:
            expected_total = writers * (per_writer // 10 * 10 + per_writer - per_writer // 10)
            task = bar.add_task(f"follower with {writers} writers", total=expected_total)
            while True:
                finished = all(not t.is_alive() for t in threads)
                got = follower.next_batch(timeout=0.2)
                seen[0] += len(got)
                with lock:
                    lags.append(acknowledged[0] - seen[0])
                bar.update(task, completed=seen[0])
                if finished and not got:
                    break
        elapsed = time.perf_counter() - started
    for t in threads:
        t.join()
    table = Table(title=f"Follower behind {writers} concurrent writers")
    for col in (
        "acknowledged",
        "seen",
        "equal",
        "max lag (events)",
        "median lag",
        "writer events/s",
    ):
        table.add_column(col, justify="right")
    lags_sorted = sorted(lags)
    table.add_row(
        str(acknowledged[0]),
        str(seen[0]),
        str(acknowledged[0] == seen[0]),
        str(max(lags)),
        str(lags_sorted[len(lags_sorted) // 2]),
        f"{acknowledged[0] / elapsed:,.0f}",
    )
    console.print(table)
    if acknowledged[0] != seen[0]:
        raise SystemExit("the follower's count differs from the acknowledged appends")


if __name__ == "__main__":
    main()
