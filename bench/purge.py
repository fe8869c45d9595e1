"""Tenant purge benchmark: what deleting a tenant in short transactions costs
(docs/deploying.md, "Offboarding a tenant"), on one server:

- ``tenants.purge`` at the default batch of 10,000 rows and at 1,000, each batch a
  transaction of its own, against one transaction of plain DELETEs of the same rows, table
  by table in the purge's order, sent by the owner with raw psycopg (the fastest way, and
  the one that holds every row's lock until it commits).

Each run purges a freshly loaded tenant (events, and memory entities with relationships),
beside a second tenant holding as much, which stays.

    python -m bench.purge [--quick] [--fast] [--events N]
"""

from __future__ import annotations

import argparse
import functools
import itertools
from collections.abc import Callable

import psycopg

from agentledger import Ledger, NewEntity, NewEvent
from bench.common import (
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure_alternately,
    progress,
    ratio_table,
)

LIBRARY_BATCHES = (10_000, 1_000)
OWNER = "one transaction of DELETEs (raw psycopg, owner)"
names = (f"t-{n}" for n in itertools.count())


def load(ledger: Ledger, tenant: str, events: int) -> int:
    """``events`` events and a tenth as many entities, each related to the one before;
    the rows written."""
    ledger.tenants.create(tenant)
    scope = ledger.tenant(tenant)
    for start in range(0, events, 1000):
        scope.events.append_many(
            [
                NewEvent(stream=f"s-{n % 100}", type="Tick", payload={"n": n, "note": "x" * 100})
                for n in range(start, min(start + 1000, events))
            ]
        )
    entities = max(1, events // 10)
    ids = scope.memory.upsert_many(
        NewEntity(kind="fact", name=f"fact {n}", summary="a fact") for n in range(entities)
    ).ids
    for a, b in itertools.pairwise(ids[:1000]):
        scope.memory.relate(a, b, "follows")
    return sum(ledger.tenants.rows(tenant).values())


def delete_as_owner(owner_url: str, tenant: str) -> None:
    """The same rows in one transaction: each table's DELETE in the purge's order."""
    with psycopg.connect(owner_url) as conn:
        tables = [r[0] for r in conn.execute("SELECT unnest(agentledger.tenant_tables_v1())")]
        for table in tables:
            conn.execute(
                psycopg.sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(
                    psycopg.sql.SQL(str(table))
                ),
                [tenant],
            )
        conn.execute("DELETE FROM agentledger.tenants WHERE id = %s", [tenant])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None, help="events per tenant")
    parser.add_argument("--repeats", type=int, default=3)
    add_fast_flag(parser)
    args = parser.parse_args(argv)
    events = args.events or (2_000 if args.quick else 100_000)
    console.print(machine())
    with (
        bench_database("purge", fast=args.fast) as db,
        Ledger(db.settings, migrate=False) as ledger,
    ):
        rows = load(ledger, next(names), events)  # the tenant that stays
        current: dict[str, str] = {}

        def setup(label: str) -> None:
            tenant = next(names)
            load(ledger, tenant, events)
            ledger.tenants.archive(tenant)
            current[label] = tenant

        def purge(label: str, size: int) -> None:
            ledger.tenants.purge(current[label], batch_size=size)

        contenders: list[tuple[str, Callable[[], object]]] = [
            (label, functools.partial(purge, label, size))
            for size in LIBRARY_BATCHES
            for label in [f"tenants.purge, batch {size:,} (library)"]
        ]
        contenders.append((OWNER, lambda: delete_as_owner(db.owner_url, current[OWNER])))
        with progress() as bar:
            bar.add_task(f"purging tenants of {rows:,} rows", total=None)
            *library, owner = measure_alternately(
                contenders, units=rows, repeats=args.repeats, setup=setup
            )
        console.print(
            ratio_table(
                f"purge a tenant of {rows:,} rows (ratio > 1: slower)",
                [(timing, owner) for timing in library],
            )
        )


if __name__ == "__main__":
    main()
