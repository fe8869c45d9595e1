"""Event log benchmark: single and batch append next to the raw-psycopg ceiling, idempotent
re-append cost, and a follower's lag behind 8 concurrent writers.

    python -m bench.events [--quick]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from typing import Any

import psycopg
from rich.table import Table

from agentledger import Ledger, NewEvent
from agentledger.events.follow_sync import Follower
from agentledger.events.ops import Q
from bench.common import (
    Timing,
    bench_database,
    console,
    machine,
    measure,
    progress,
    ratio_table,
)

APPEND = Q.append_events.sql
BIND = "SELECT agentledger.bind_tenant(%(tenant)s)"


def new_events(n: int, stream: str) -> list[NewEvent]:
    return [
        NewEvent(stream=stream, type="Measured", payload={"i": i, "note": "x" * 40})
        for i in range(n)
    ]


def one(stream: str, i: int) -> NewEvent:
    return NewEvent(stream=stream, type="Measured", payload={"i": i, "note": "x" * 40})


def as_json(events: list[NewEvent]) -> str:
    return json.dumps(
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
    )


def eventsourcing_peer(
    url: str, singles: int, batch: int, repeats: int
) -> tuple[Timing, Timing, Timing] | None:
    """The same work through eventsourcing's PostgresApplicationRecorder, configured as its
    docs advise (a pooled datastore, the default table); None when it is not installed."""
    try:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
    except ImportError:
        console.print("[yellow]eventsourcing is not installed (pip install '.[bench]')[/]")
        return None
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    datastore = PostgresDatastore(
        dbname=str(params["dbname"]),
        host=str(params.get("host", "127.0.0.1")),
        port=str(params.get("port", 5432)),
        user=str(params.get("user", "postgres")),
        password=str(params.get("password", "")),
        pool_size=2,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="es_bench_events")
    recorder.create_table()
    state = json.dumps({"i": 0, "note": "x" * 40}).encode()

    def single() -> None:
        originator = uuid.uuid4()
        for version in range(1, singles + 1):
            recorder.insert_events([StoredEvent(originator, version, "Measured", state)])

    def many() -> None:
        originator = uuid.uuid4()
        recorder.insert_events(
            [StoredEvent(originator, v, "Measured", state) for v in range(1, batch + 1)]
        )

    with progress() as bar:
        task = bar.add_task("eventsourcing recorder", total=3)
        single_t = measure("append (eventsourcing)", single, units=singles, repeats=repeats)
        bar.advance(task)
        many_t = measure(f"insert {batch} (eventsourcing)", many, units=batch, repeats=repeats)
        bar.advance(task)
        catchup_t = measure(
            f"select_notifications {batch} (eventsourcing)",
            lambda: recorder.select_notifications(start=1, limit=batch),
            units=batch,
            repeats=repeats,
        )
        bar.advance(task)
    datastore.close()
    return single_t, many_t, catchup_t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--singles", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args(argv)
    singles = args.singles or (50 if args.quick else 1000)
    batch = args.batch or (100 if args.quick else 1000)
    per_writer = 20 if args.quick else 500
    repeats = 2 if args.quick else 5
    console.print(machine())

    with bench_database("events") as bdb, Ledger(bdb.settings, migrate=False) as ledger:
        tenant = "bench"
        ledger.tenants.create(tenant)
        scope = ledger.tenant(tenant)
        raw = psycopg.connect(bdb.app_url)
        bare = psycopg.connect(bdb.app_url, autocommit=True)
        bare.execute("SELECT set_config('agentledger.tenant_id', %s, false)", [tenant])
        rows: list[tuple[Any, Any]] = []
        counter = iter(range(10**9))

        def lib_single() -> None:
            stream = f"single-{next(counter)}"
            for i in range(singles):
                scope.events.append(stream, "Measured", {"i": i, "note": "x" * 40})

        def raw_single() -> None:
            stream = f"single-{next(counter)}"
            for i in range(singles):
                # The library's round trips: BEGIN + bind + statement pipelined, then COMMIT.
                with raw.pipeline(), raw.transaction():
                    raw.execute(BIND, {"tenant": tenant})
                    raw.execute(
                        APPEND,
                        {"events": as_json([one(stream, i)]), "expected": None, "dated": False},
                    ).fetchall()

        def bare_single() -> None:
            stream = f"single-{next(counter)}"
            for i in range(singles):
                bare.execute(
                    APPEND, {"events": as_json([one(stream, i)]), "expected": None, "dated": False}
                ).fetchall()

        with progress() as bar:
            task = bar.add_task("single appends", total=3)
            ours = measure("append (library)", lib_single, units=singles, repeats=repeats)
            bar.advance(task)
            base = measure(
                "append (raw psycopg, tx + bind)", raw_single, units=singles, repeats=repeats
            )
            bar.advance(task)
            bare_t = measure(
                "append (raw, bare statement)", bare_single, units=singles, repeats=repeats
            )
            bar.advance(task)
        rows += [(ours, base), (ours, bare_t)]

        prepared: list[list[NewEvent]] = []

        def lib_batch() -> None:
            events = new_events(batch, f"batch-{next(counter)}")
            prepared.append(events)
            scope.events.append_many(events)

        def raw_batch() -> None:
            with raw.pipeline(), raw.transaction():
                raw.execute(BIND, {"tenant": tenant})
                raw.execute(
                    APPEND,
                    {
                        "events": as_json(new_events(batch, f"batch-{next(counter)}")),
                        "expected": None,
                        "dated": False,
                    },
                ).fetchall()

        def bare_batch() -> None:
            bare.execute(
                APPEND,
                {
                    "events": as_json(new_events(batch, f"batch-{next(counter)}")),
                    "expected": None,
                    "dated": False,
                },
            ).fetchall()

        fixed = [
            NewEvent(
                stream=f"replay-{i // 100}",
                type="Measured",
                payload={"i": i},
                event_id=uuid.uuid4(),
            )
            for i in range(batch)
        ]
        scope.events.append_many(fixed)

        def lib_replay() -> None:
            results = scope.events.append_many(fixed)
            assert all(r.already_appended for r in results)

        with progress() as bar:
            task = bar.add_task(f"{batch}-event batches", total=4)
            ours_b = measure(
                f"append_many {batch} (library)", lib_batch, units=batch, repeats=repeats
            )
            bar.advance(task)
            base_b = measure(f"{batch} (raw, tx + bind)", raw_batch, units=batch, repeats=repeats)
            bar.advance(task)
            bare_b = measure(f"{batch} (raw, bare)", bare_batch, units=batch, repeats=repeats)
            bar.advance(task)
            replay = measure(
                f"re-append {batch} known ids", lib_replay, units=batch, repeats=repeats
            )
            bar.advance(task)
        rows += [(ours_b, base_b), (ours_b, bare_b), (replay, ours_b)]
        console.print(ratio_table("Event log: library vs raw psycopg (ratio > 1: slower)", rows))
        peer = eventsourcing_peer(bdb.owner_url, singles, batch, repeats)
        if peer is not None:
            single_peer, batch_peer, catchup_peer = peer
            ours_catchup = measure(
                f"catch-up read {batch} (library)",
                lambda: scope.events.read_all(0, limit=batch),
                units=batch,
                repeats=repeats,
            )
            console.print(
                ratio_table(
                    "Event log: library vs the eventsourcing library's PostgreSQL recorder",
                    [(ours, single_peer), (ours_b, batch_peer), (ours_catchup, catchup_peer)],
                )
            )

        # A follower while 8 writers append concurrently.
        writers = 8
        acknowledged = [0]
        lock = threading.Lock()
        lags: list[int] = []
        seen = [0]
        with Follower(ledger.db, tenant, "bench-follower", poll_interval=0.05) as follower:
            follower.position = 0
            while follower.poll():  # skip what earlier scenarios wrote
                pass

            def write(w: int) -> None:
                with Ledger(bdb.settings, migrate=False) as mine:
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
                task = bar.add_task("follower with 8 writers", total=expected_total)
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
        table = Table(title="Follower behind 8 concurrent writers")
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
        raw.close()
        bare.close()
        if acknowledged[0] != seen[0]:
            raise SystemExit("the follower's count differs from the acknowledged appends")


if __name__ == "__main__":
    main()
