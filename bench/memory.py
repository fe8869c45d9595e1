"""Memory benchmark: upserts against the raw-psycopg ceiling; search latency at two sizes.

    python -m bench.memory [--quick] [--small N] [--large N]

Prints single and batch upsert throughput beside the same SQL through raw psycopg (in a
bound transaction, and as a bare statement), find_by_name and hybrid-search p50/p99 at the
small and large size with their EXPLAIN plans, and vector recall against exact search
among as many random vectors as the small size (5,000 at the most).
Rows past the small size are bulk-loaded with COPY (no embeddings: vector figures are for
the small size).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from agentledger import Filter, Ledger, NewEntity
from agentledger.memory import filters, ops, search
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
from bench.plans import traced_plans


def entity(i: int, corpus: Corpus) -> NewEntity:
    r = corpus.row()
    return NewEntity(
        kind=r.kind,
        name=r.name,
        key=f"k{i}",
        source="bench",
        summary=r.summary,
        attrs=r.attrs,
        tags=r.tags,
        user_id=r.user_id,
    )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--small", type=int, default=None, help="10,000 (quick: 1,000)")
    parser.add_argument("--large", type=int, default=None, help="1,000,000 (quick: 5,000)")
    parser.add_argument("--large-queries", type=int, default=200)
    args = parser.parse_args(argv)
    small = args.small or (1000 if args.quick else 10_000)
    large = args.large or (5000 if args.quick else 1_000_000)
    singles, batch, queries = (50, 1000, 30) if args.quick else (500, 10_000, 200)
    console.print(machine())
    rng = random.Random(7)
    corpus = Corpus(seed=7)
    with (
        bench_database("memory", fast=args.fast) as bdb,
        Ledger(bdb.settings, migrate=False) as ledger,
    ):
        tid = "bench"
        ledger.tenants.create(tid)
        mem = ledger.tenant(tid).memory
        raw = psycopg.connect(bdb.app_url, autocommit=True)
        sql = ops.Q.upsert_entities.sql
        bind = "SELECT agentledger.bind_tenant(%(tenant)s)"

        def rows_of(items: list[NewEntity]) -> str:
            return json.dumps(
                [
                    {k: x for k, x in ops._entity_row(e, "e").items() if k != "embedding"}
                    for e in items
                ]
            )

        counter = iter(range(10**9))

        def ours_single() -> None:
            for _ in range(singles):
                mem.upsert_many([entity(next(counter), corpus)])

        def raw_single() -> None:
            for _ in range(singles):
                params = rows_of([entity(next(counter), corpus)])
                with raw.pipeline(), raw.cursor() as cur:
                    cur.execute("BEGIN")
                    cur.execute(bind, {"tenant": tid})
                    cur.execute(sql, {"rows": params, "mode": "shallow"})
                    cur.fetchall()
                    cur.execute("COMMIT")

        bare = psycopg.connect(bdb.app_url, autocommit=True)
        bare.execute("SELECT set_config('agentledger.tenant_id', %s, false)", [tid])

        def bare_single() -> None:
            for _ in range(singles):
                bare.execute(
                    sql, {"rows": rows_of([entity(next(counter), corpus)]), "mode": "shallow"}
                ).fetchall()

        def ours_batch() -> None:
            mem.upsert_many([entity(next(counter), corpus) for _ in range(batch)])

        def raw_batch() -> None:
            params = rows_of([entity(next(counter), corpus) for _ in range(batch)])
            with raw.transaction(), raw.cursor() as cur:
                cur.execute(bind, {"tenant": tid})
                cur.execute(sql, {"rows": params, "mode": "shallow"}).fetchall()

        one, raw_one, bare_one = measure_alternately(
            [
                ("upsert (1 row)", ours_single),
                ("raw: BEGIN+bind+upsert+COMMIT", raw_single),
                ("raw: bare statement", bare_single),
            ],
            units=singles,
            repeats=5,
        )
        many, raw_many = measure_alternately(
            [(f"upsert_many ({batch})", ours_batch), (f"raw batch ({batch})", raw_batch)],
            units=batch,
            repeats=3,
        )
        console.print(
            ratio_table(
                "memory upserts (new rows; input shaping included on both sides)",
                [(one, raw_one), (one, bare_one), (many, raw_many)],
            )
        )
        # Access tracking: a read that records itself (touch) against the same read. The
        # ledger writes touches in batches (once a second by default, some 2,000 reads at
        # this rate); each timed run of 1,000 reads ends with its own write, so the figure
        # carries the whole cost of recording them.
        ids = [e.id for e in mem.list(limit=200)]
        picks = iter(range(10**9))
        reads = 1000

        def plain_get() -> None:
            for _ in range(reads):
                mem.get(ids[next(picks) % len(ids)])

        def touched_get() -> None:
            for _ in range(reads):
                mem.get(ids[next(picks) % len(ids)], touch=True)
            ledger.flush_access()

        touched, plain = measure_alternately(
            [("get, touch=True", touched_get), ("get", plain_get)], units=reads, repeats=5
        )
        console.print(
            ratio_table("memory access tracking (target: touch costs <= 1.10x)", [(touched, plain)])
        )
        owner = psycopg.connect(bdb.owner_url, autocommit=True)
        # The search phase starts from an empty table: the small size is exactly that many
        # entities, not that many on top of the rows the upsert timings left behind.
        owner.execute("TRUNCATE agentledger.memory_entities CASCADE")
        latencies: dict[int, dict[str, tuple[float, float]]] = {}
        for size in (small, large):
            have = owner.execute("SELECT count(*) FROM agentledger.memory_entities").fetchone()
            load(owner, tid, size - (have[0] if have else 0), corpus)
            owner.execute(
                "VACUUM ANALYZE agentledger.memory_entities, agentledger.memory_name_terms"
            )
            count = owner.execute("SELECT count(*) FROM agentledger.memory_entities").fetchone()
            console.print(f"entities in the table (all in tenant {tid!r}): {count and count[0]:,}")
            n = queries if size == small else min(queries, args.large_queries)
            latencies[size] = search_latency(mem, Corpus(seed=11), n, owner, tid, size)
            if size == small and "vector" in ledger.db.extensions:
                recall(mem, owner, raw, tid, rng, queries, vectors=min(5000, small))
        console.print("p50 / p99 in ms:")
        for size, found in latencies.items():
            console.print(size, {k: f"{a:.2f} / {b:.2f}" for k, (a, b) in found.items()})
        for label in latencies[small]:
            ratio = record_growth(
                f"memory growth: p99 at {large:,} vs {small:,} entities (target <= 3x)",
                label,
                (f"{large:,}", f"{small:,}"),
                (latencies[large][label][1], latencies[small][label][1]),
            )
            console.print(f"p99 ratio {large:,} / {small:,} {label}: {ratio:.1f}x (target <= 3x)")


def load(
    owner: psycopg.Connection[Any], tid: str, count: int, corpus: Corpus, step: int = 20_000
) -> None:
    """Bulk-load ``count`` entities with COPY (as the owner: COPY FROM refuses RLS tables)."""
    if count <= 0:
        return
    cols = "tenant_id, user_id, kind, dedup_key, name, summary, attrs, tags"
    with progress() as bar:
        task = bar.add_task(f"COPY {count:,} entities", total=count)
        done = 0
        while done < count:
            n = min(step, count - done)
            with (
                owner.cursor() as cur,
                cur.copy(f"COPY agentledger.memory_entities ({cols}) FROM STDIN") as copy,
            ):
                for _ in range(n):
                    r = corpus.row()
                    copy.write_row(
                        (
                            tid,
                            r.user_id,
                            r.kind,
                            json.dumps(["id", str(uuid.uuid4())]),
                            r.name,
                            r.summary,
                            json.dumps(r.attrs),
                            r.tags,
                        )
                    )
            done += n
            bar.advance(task, n)


def search_latency(
    mem: Any,
    corpus: Corpus,
    queries: int,
    owner: psycopg.Connection[Any],
    tid: str,
    size: int,
) -> dict[str, tuple[float, float]]:
    """p50 / p99 of each search over ``queries`` generated queries, then the EXPLAIN plans
    of the search functions' bodies (as the owner the functions run as, tenant bound)."""
    out = {}
    scope = Filter(user="u7")
    cases: dict[str, Callable[[], object]] = {
        "find_by_name": lambda: mem.find_by_name(corpus.name_query(), limit=10),
        "find_by_name user-scoped": lambda: mem.find_by_name(
            corpus.name_query(), filter=scope, limit=10
        ),
        "hybrid": lambda: mem.search(corpus.topic_query(), limit=10),
        "hybrid user-scoped": lambda: mem.search(corpus.topic_query(), filter=scope, limit=10),
    }
    for label, fn in cases.items():
        fn()
        samples = []
        for _ in range(queries):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        out[label] = percentiles(samples)
    hybrid = {"pool": 20, "text_cap": search.TEXT_CANDIDATES, "rrf_k": search.RRF_K}
    fuzzy = {"threshold": 0.3, "cap": search.NAME_CANDIDATES}
    for label, statement, params, flt in (
        ("find_by_name", ops.Q.find_by_name, {"name": "Jon Smith"}, None),
        ("find_by_name user-scoped", ops.Q.find_by_name, {"name": "Jon Smith"}, scope),
        ("hybrid", ops.Q.search_hybrid, {"query": "Smith budget", **hybrid}, None),
        ("hybrid user-scoped", ops.Q.search_hybrid, {"query": "Smith budget", **hybrid}, scope),
    ):
        with owner.transaction():
            owner.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tid])
            shown = traced_plans(
                owner,
                statement.sql,
                {**params, **fuzzy, **filters.params(flt), "limit": 10},
            )
        console.print(f"[bold]EXPLAIN {label} at {size:,}[/bold] (every statement it runs)")
        console.print(shown, markup=False)
    return out


def recall(
    mem: Any,
    owner: psycopg.Connection[Any],
    app: psycopg.Connection[Any],
    tid: str,
    rng: random.Random,
    n: int,
    *,
    vectors: int,
) -> None:
    """Vector recall@10 against exact search among ``vectors`` random vectors, unscoped and
    scoped to one user: through the library, then through the search function at several
    ``hnsw.ef_search`` values."""
    items = []
    corpus = Corpus(seed=17)  # one generator: building one is most of a quick run's time
    for i in range(vectors):
        v = [rng.gauss(0, 1) for _ in range(384)]
        e = entity(10**13 + i, corpus)
        items.append(
            NewEntity(
                kind=e.kind, name=e.name, key=e.key, source="vec", user_id=e.user_id, embedding=v
            )
        )
    for start in range(0, len(items), 1000):  # each batch well inside the statement timeout
        mem.upsert_many(items[start : start + 1000])
    owner.execute("ANALYZE agentledger.memory_entities")
    efs = (40, 100, 200, 400)
    for label, flt in (("unscoped", None), ("user-scoped", Filter(user="u3"))):
        hits = expected = 0  # a scope of fewer than 10 vectors expects fewer
        by_ef = dict.fromkeys(efs, 0)
        rounds = min(n, 50)
        for _ in range(rounds):
            q = [rng.gauss(0, 1) for _ in range(384)]
            got = {h.entity.id for h in mem.search_vector(q, filter=flt, limit=10)}
            text = "[" + ",".join(map(repr, q)) + "]"
            with owner.transaction():
                owner.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tid])
                exact = owner.execute(
                    "SELECT id FROM agentledger.memory_entities WHERE tenant_id = %s"
                    " AND embedding IS NOT NULL AND (%s::text IS NULL OR user_id IN ('', %s))"
                    " ORDER BY (embedding <=> %s::vector) + 0 LIMIT 10",
                    [tid, flt and flt.user, flt and flt.user, text],
                ).fetchall()
            truth = {r[0] for r in exact}
            hits += len(got & truth)
            expected += len(truth)
            for ef in efs:
                with app.transaction():
                    app.execute("SELECT agentledger.bind_tenant(%s)", [tid])
                    app.execute(
                        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                        " set_config('hnsw.ef_search', %s, true)",
                        [str(ef)],
                    )
                    found = app.execute(
                        ops.Q.search_vector.sql,
                        {**filters.params(flt), "space": None, "embedding": text, "limit": 10},
                    ).fetchall()
                by_ef[ef] += len({r[0] for r in found} & truth)
        console.print(f"vector recall@10 {label} of {vectors:,}: {hits / expected:.3f} (library)")
        console.print(
            f"vector recall@10 {label} by hnsw.ef_search: "
            + ", ".join(f"{ef}: {h / expected:.3f}" for ef, h in by_ef.items())
        )


if __name__ == "__main__":
    main()
