"""Seed 002's memory graph backend (examples/memory_graph) against its baselines, same run:

- ``load_user_memories`` of a user with N nodes and 4N edges, against the same statements
  (the library's SQL text, same pages and slices) through raw psycopg in one transaction;
- ``search_nodes`` p50 / p99 at a small and a large table, users of 100 nodes each (the
  tenant grows by users: target p99 grows <= 3x);
- ``store_node`` one at a time and ``store_nodes`` in a batch, against LangGraph's
  PostgresStore ``put`` and batch put (skipped when langgraph is not installed).

    python -m bench.memory_graph [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from agentledger import Filter
from agentledger.memory import filters, graph, ops
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
from bench.corpus import Corpus
from bench.memory import percentiles
from examples.memory_graph.backend import EDGE_TARGET, PAGE, PostgresMemoryBackend
from examples.memory_graph.models import ContextType, MemoryNode, RelationshipType

T = TypeVar("T")
KINDS = [str(c) for c in ContextType]
EDGE_TYPES = [str(r) for r in RelationshipType]
# Nodes a user holds in the search tables (a table of N nodes has N / NODES_A_USER users).
NODES_A_USER = 100


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    graph_nodes = 500 if args.quick else 5000
    small, large = (2000, 20_000) if args.quick else (10_000, 1_000_000)
    singles, batch, queries = (30, 200, 40) if args.quick else (300, 2000, 300)
    console.print(machine())
    loop = asyncio.new_event_loop()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(coro)

    with bench_database("graph", fast=args.fast) as db:
        backend = PostgresMemoryBackend(settings=db.settings)
        run(backend.initialize())
        tenant = backend.tenant
        owner = psycopg.connect(db.owner_url, autocommit=True)
        try:
            load_graph(backend, run, owner, tenant, graph_nodes)
            compare_load(backend, run, db.app_url, tenant)
            compare_stores(backend, run, db.owner_url, singles, batch)
            search_growth(backend, run, owner, tenant, (small, large), queries)
        finally:
            owner.close()
            run(backend.close())
            loop.close()


def load_graph(
    backend: PostgresMemoryBackend,
    run: Any,
    owner: psycopg.Connection[Any],
    tenant: str,
    nodes: int,
) -> None:
    """``nodes`` nodes of user ``graph`` through the backend, and 4 edges a node by COPY."""
    corpus = Corpus(seed=5)
    with progress() as bar:
        task = bar.add_task(f"{nodes:,} nodes, {4 * nodes:,} edges", total=nodes * 5)
        ids: list[str] = []
        for start in range(0, nodes, 1000):
            chunk = [node(corpus, i) for i in range(start, min(nodes, start + 1000))]
            ids += run(backend.store_nodes(chunk, "graph"))
            bar.advance(task, len(chunk))
        rng = random.Random(5)
        with (
            owner.cursor() as cur,
            cur.copy(
                "COPY agentledger.memory_relationships (tenant_id, from_id, to_id, type, weight)"
                " FROM STDIN"
            ) as copy,
        ):
            for i, source in enumerate(ids):
                targets = rng.sample(range(nodes), 5)
                for t in [t for t in targets if t != i][:4]:
                    copy.write_row((tenant, source, ids[t], rng.choice(EDGE_TYPES), rng.random()))
                bar.advance(task, 4)
    owner.execute("VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_relationships")


def compare_load(backend: PostgresMemoryBackend, run: Any, app_url: str, tenant: str) -> None:
    loaded: list[int] = []

    def ours() -> None:
        got = run(backend.load_user_memories("graph"))
        loaded[:] = [len(got.nodes), len(got.relationships), got.queries]

    raw_conn = run(psycopg.AsyncConnection.connect(app_url, row_factory=dict_row))

    def raw() -> None:
        run(raw_load(raw_conn, tenant, "graph"))

    mine, base = measure_alternately(
        [("load_user_memories", ours), ("raw psycopg, same statements", raw)], repeats=5
    )
    console.print(f"loaded {loaded[0]:,} nodes and {loaded[1]:,} edges in {loaded[2]} statements")
    console.print(ratio_table("memory graph: a user's whole graph", [(mine, base)]))
    run(raw_conn.close())


async def raw_load(conn: psycopg.AsyncConnection[Any], tenant: str, user: str) -> int:
    """The statements load_user_memories runs, straight through the driver."""
    flt = filters.params(Filter(user=user, scope="own", include_archived=True))
    rows = 0
    async with conn.transaction():
        await conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        cur = await conn.execute(ops.Q.stats.sql, {"user": user})
        stats = await cur.fetchone()
        assert stats is not None
        ids: list[Any] = []
        after: dict[str, Any] | None = None
        while True:
            params = {
                **flt,
                "after_updated": after and after["updated_at"],
                "after_id": after and after["id"],
                "limit": PAGE,
            }
            page = await (await conn.execute(ops.Q.list_entities.sql, params)).fetchall()
            ids += [r["id"] for r in page]
            if len(page) < PAGE:
                break
            after = page[-1]
        degree = stats["relationships"] / max(1, len(ids))
        step = max(1, min(PAGE, math.floor(EDGE_TARGET / degree) if degree else PAGE))
        for i in range(0, len(ids), step):
            params = {
                "ids": ids[i : i + step],
                "out": True,
                "in": False,
                "types": None,
                "user": user,
                "own": True,
                "limit": PAGE,
            }
            rows += len(await (await conn.execute(graph.Q.relationships_of.sql, params)).fetchall())
    return rows + len(ids)


def compare_stores(
    backend: PostgresMemoryBackend, run: Any, owner_url: str, singles: int, batch: int
) -> None:
    try:
        from langgraph.store.base import PutOp
        from langgraph.store.postgres import PostgresStore
    except ImportError:
        console.print("[yellow]langgraph is not installed (pip install '.[bench]'): no peer[/]")
        return
    corpus = Corpus(seed=9)
    counter = iter(range(10**9))
    with PostgresStore.from_conn_string(owner_url) as store:
        store.setup()

        def ours_single() -> None:
            for _ in range(singles):
                run(backend.store_node(node(corpus, next(counter)), "stores"))

        def peer_single() -> None:
            for _ in range(singles):
                n = node(corpus, next(counter))
                store.put(("stores", "nodes"), n.node_id, n.content)

        def ours_batch() -> None:
            run(backend.store_nodes([node(corpus, next(counter)) for _ in range(batch)], "stores"))

        def peer_batch() -> None:
            nodes = [node(corpus, next(counter)) for _ in range(batch)]
            store.batch([PutOp(("stores", "nodes"), n.node_id, n.content) for n in nodes])

        one, peer_one = measure_alternately(
            [("store_node", ours_single), ("PostgresStore put", peer_single)],
            units=singles,
            repeats=5,
        )
        many, peer_many = measure_alternately(
            [(f"store_nodes ({batch})", ours_batch), (f"batch put ({batch})", peer_batch)],
            units=batch,
            repeats=3,
        )
    console.print(
        ratio_table(
            "memory graph stores against LangGraph PostgresStore (ratio < 1: ours faster)",
            [(one, peer_one), (many, peer_many)],
        )
    )


def search_growth(
    backend: PostgresMemoryBackend,
    run: Any,
    owner: psycopg.Connection[Any],
    tenant: str,
    sizes: tuple[int, int],
    queries: int,
) -> None:
    corpus = Corpus(seed=7)
    latencies: dict[int, tuple[float, float]] = {}
    have = 0
    for size in sizes:
        users = size // NODES_A_USER
        copy_nodes(owner, tenant, corpus, size - have, users=users, start=have)
        have = size
        owner.execute("VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_name_terms")
        asks = Corpus(seed=13)
        samples = []
        for i in range(queries):
            user = f"u{i * 7919 % users}"
            query = asks.topic_query().split()[-1] if i % 2 else asks.company().split()[0]
            context = [KINDS[i % len(KINDS)]] if i % 3 == 0 else None
            started = time.perf_counter()
            run(backend.search_nodes(user, query, context_filter=context, limit=50))
            samples.append(time.perf_counter() - started)
        latencies[size] = percentiles(samples)
        console.print(
            f"search_nodes over {size:,} nodes ({users:,} users): "
            f"p50 {latencies[size][0]:.2f} ms, p99 {latencies[size][1]:.2f} ms"
        )
    small, large = sizes
    ratio = record_growth(
        f"memory graph search_nodes: p99 at {large:,} vs {small:,} nodes (<= 3x)",
        "search_nodes",
        (f"{large:,}", f"{small:,}"),
        (latencies[large][1], latencies[small][1]),
    )
    console.print(f"p99 growth {large:,} / {small:,}: {ratio:.2f}x (target <= 3x)")


def node(corpus: Corpus, i: int) -> MemoryNode:
    row = corpus.row()
    return MemoryNode(
        content={
            "entity_id": f"E-{i}",
            "entity_system": "bench",
            "entity_type": row.kind,
            "entity_name": row.name,
            "entity_data": dict(row.attrs),
        },
        context_type=ContextType(KINDS[i % len(KINDS)]),
        summary=row.summary,
        tags=row.tags,
    )


def copy_nodes(
    owner: psycopg.Connection[Any],
    tenant: str,
    corpus: Corpus,
    count: int,
    *,
    users: int,
    start: int = 0,
) -> None:
    """``count`` nodes, node ``start + j`` of user ``u{(start + j) % users}``, by COPY (as
    the owner: COPY skips RLS)."""
    cols = "tenant_id, user_id, kind, source, key, dedup_key, name, summary, attrs, tags"
    with progress() as bar:
        task = bar.add_task(f"COPY {count:,} nodes", total=count)
        done = 0
        while done < count:
            n = min(20_000, count - done)
            with (
                owner.cursor() as cur,
                cur.copy(f"COPY agentledger.memory_entities ({cols}) FROM STDIN") as copy,
            ):
                for j in range(n):
                    r = corpus.row()
                    key = str(uuid.uuid4())
                    content = {"entity_type": r.kind, "entity_data": r.attrs}
                    copy.write_row(
                        (
                            tenant,
                            f"u{(start + done + j) % users}",
                            KINDS[(done + j) % len(KINDS)],
                            "bench",
                            key,
                            json.dumps(["key", "bench", key]),
                            r.name,
                            r.summary,
                            json.dumps({"content": content, "metadata": {}}),
                            r.tags,
                        )
                    )
            done += n
            bar.advance(task, n)


if __name__ == "__main__":
    main()
