"""Read replicas benchmark: what sending reads to a streaming standby costs and buys, on a
primary and a standby of this machine (the embedded binaries, ``pg_basebackup -R``):

- reads (``memory.get`` by id) through a ledger whose reads go to the standby, against
  the same reads through a ledger with no read URL (the primary);
- the same reads while writer threads append events to the primary as fast as they can:
  p50 / p99 of each read on the standby against on the primary.

Both servers share this machine's cores, so the second figure shows what a standby on the
same host buys (little: the cores are the bottleneck); on its own host it takes the read
load off the primary entirely.

    python -m bench.replicas [--quick] [--reads N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import psycopg

from agentledger import Ledger, NewEntity, Settings
from agentledger.db import migrate
from agentledger.db.embedded import EmbeddedServer
from bench.common import console, machine, measure_alternately, ratio_table

OPTIONS = ("fsync=off",)  # a throwaway pair; commits still stream to the standby at once
WRITERS = 4


@contextmanager
def primary_and_standby() -> Iterator[tuple[str, str]]:
    """A migrated primary and its streaming standby, caught up; their owner URLs."""
    root = Path(tempfile.mkdtemp(prefix="agentledger-bench-replicas-"))
    root.chmod(0o755)
    primary = EmbeddedServer(root / "primary", options=OPTIONS)
    standby = EmbeddedServer(root / "standby", options=OPTIONS)
    try:
        migrate.upgrade(primary.start().url())
        standby.init_standby(primary.status())
        standby.start()
        yield primary.url(), standby.url()
    finally:
        standby.stop(mode="immediate")
        primary.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def caught_up(primary: str, standby: str) -> None:
    with psycopg.connect(primary, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    with psycopg.connect(standby, autocommit=True) as conn:
        while True:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],))
            if (done.fetchone() or (False,))[0]:
                return
            time.sleep(0.01)


def latencies(ledger: Ledger, tenant: str, ids: list[UUID], reads: int) -> list[float]:
    mem = ledger.tenant(tenant).memory
    out = []
    for i in range(reads):
        start = time.perf_counter()
        mem.get(ids[i % len(ids)])
        out.append(time.perf_counter() - start)
    return out


def p50_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reads", type=int, default=None, help="reads per timed run")
    args = parser.parse_args(argv)
    reads = args.reads or (300 if args.quick else 3000)
    console.print(machine())
    data = Path(tempfile.mkdtemp(prefix="agentledger-bench-data-"))
    with primary_and_standby() as (primary, standby):
        plain = Settings.build(database_url=primary, data_dir=data, pool_max_size=WRITERS + 2)
        routed = plain.with_(read_database_url=standby)
        with Ledger(plain, migrate=False) as on_primary, Ledger(routed, migrate=False) as split:
            on_primary.tenants.create("bench")
            ids: list[UUID] = list(
                on_primary.tenant("bench")
                .memory.upsert_many(
                    NewEntity(kind="fact", name=f"fact {i}", summary="x" * 200) for i in range(2000)
                )
                .ids
            )
            caught_up(primary, standby)

            def standby_reads() -> None:
                latencies(split, "bench", ids, reads)

            def primary_reads() -> None:
                latencies(on_primary, "bench", ids, reads)

            on_standby, on_primary_only = measure_alternately(
                [("get, reads on the standby", standby_reads), ("get, no read URL", primary_reads)],
                units=reads,
                repeats=5,
            )
            console.print(
                ratio_table("read replicas: reads, idle primary", [(on_standby, on_primary_only)])
            )

            stop = threading.Event()
            appended = [0] * WRITERS

            def write(n: int) -> None:
                events = on_primary.tenant("bench").events
                while not stop.is_set():
                    events.append(f"load-{n}", "Wrote", {"n": appended[n]})
                    appended[n] += 1

            writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
            for w in writers:
                w.start()
            try:
                time.sleep(0.5)
                busy: dict[str, list[float]] = {"standby": [], "primary": []}
                for _ in range(3):  # alternated, as everywhere in bench/
                    busy["standby"] += latencies(split, "bench", ids, reads)
                    busy["primary"] += latencies(on_primary, "bench", ids, reads)
            finally:
                stop.set()
                for w in writers:
                    w.join()
            for where, samples in busy.items():
                p50, p99 = p50_p99(samples)
                console.print(
                    f"get on the {where} while {WRITERS} writers append to the primary: "
                    f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(samples)} reads)"
                )
            console.print(f"appended meanwhile: {sum(appended):,} events")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
