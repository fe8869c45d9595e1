"""Transaction-mode pooler benchmark: what ``pooler="transaction"`` and a PgBouncer hop cost
(docs/deploying.md), on one server:

- single event appends and memory gets, one caller, p50 / p99: through PgBouncer in
  transaction mode, and directly with the same setting (no prepared statements, the
  session's settings sent with each binding), each against the direct default;
- appends from many threads through PgBouncer's few server sessions, against the same
  threads on as many direct connections as they are.

    python -m bench.pooler [--quick] [--fast] [--ops N]

Needs the ``pgbouncer`` binary (apt-get install pgbouncer).
"""

from __future__ import annotations

import argparse
import functools
import threading
from collections.abc import Callable
from uuid import UUID

from chaos.pgbouncer import PgBouncer

from agentledger import Ledger, NewEntity, Settings
from bench.common import (
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure_alternately,
    measure_each_alternately,
    ratio_table,
)

THREADS = 16
SERVER_SESSIONS = 4  # PgBouncer's sessions for THREADS callers
Op = Callable[[], object]


def single_ops(ledger: Ledger, ids: list[UUID], kind: str, count: int) -> list[Op]:
    """One repeat's ``count`` operations of ``kind`` (append or get), timed one by one."""
    scope = ledger.tenant("bench")
    if kind == "append":
        return [
            functools.partial(scope.events.append, f"s-{n % 50}", "Tick", {"n": n})
            for n in range(count)
        ]
    return [functools.partial(scope.memory.get, ids[n % len(ids)]) for n in range(count)]


def concurrent_appends(ledger: Ledger, per_thread: int) -> None:
    """``THREADS`` threads appending ``per_thread`` events each, to streams of their own."""
    events = ledger.tenant("bench").events

    def write(t: int) -> None:
        for n in range(per_thread):
            events.append(f"t-{t}", "Tick", {"n": n})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ops", type=int, default=None, help="single operations per repeat")
    add_fast_flag(parser)
    args = parser.parse_args(argv)
    count = args.ops or (100 if args.quick else 1000)
    per_thread = max(5, count // 5)
    console.print(machine())
    with bench_database("pooler", fast=args.fast) as db:
        owner = db.owner_url
        with PgBouncer(owner, db.settings.app_role, server_sessions=SERVER_SESSIONS) as bouncer:
            direct = db.settings.with_(pool_max_size=THREADS)
            modes: dict[str, Settings] = {
                "direct": direct,
                "direct, pooler=transaction": direct.with_(pooler="transaction"),
                "PgBouncer, pooler=transaction": direct.with_(
                    app_url=bouncer.url, pooler="transaction"
                ),
            }
            ledgers = {name: Ledger(s, migrate=False).open() for name, s in modes.items()}
            try:
                run(ledgers, count, per_thread)
            finally:
                for ledger in ledgers.values():
                    ledger.close()


def run(ledgers: dict[str, Ledger], count: int, per_thread: int) -> None:
    base = ledgers["direct"]
    base.tenants.create("bench")
    ids = list(
        base.tenant("bench")
        .memory.upsert_many(NewEntity(kind="fact", name=f"fact {i}") for i in range(500))
        .ids
    )
    rows = []
    for kind in ("append", "get"):
        plain, in_mode, through = measure_each_alternately(
            [
                (f"{kind}, {name}", functools.partial(single_ops, ledger, ids, kind, count))
                for name, ledger in ledgers.items()
            ]
        )
        rows += [(in_mode, plain), (through, plain)]
    console.print(ratio_table("pooler: single operations, one caller", rows))
    through, straight = measure_alternately(
        [
            (
                f"{THREADS} threads' appends through PgBouncer ({SERVER_SESSIONS} sessions)",
                lambda: concurrent_appends(ledgers["PgBouncer, pooler=transaction"], per_thread),
            ),
            (
                f"{THREADS} threads' appends, direct ({THREADS} sessions)",
                lambda: concurrent_appends(base, per_thread),
            ),
        ],
        units=THREADS * per_thread,
        repeats=3,
    )
    console.print(ratio_table("pooler: concurrent appends", [(through, straight)]))


if __name__ == "__main__":
    main()
