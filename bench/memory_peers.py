"""Memory against LangGraph's PostgresStore (langgraph-checkpoint-postgres), side by side:
single and batch writes, get by key, filtered search, and vector search in a scoped
namespace with recall against exact search. Both get the same documents and the same
embeddings (a deterministic hashing embedder), on the same server, in the same run.

    python -m bench.memory_peers [--quick] [--fast]
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from agentledger import Filter, HashingEmbedder, Ledger
from bench.common import (
    Timing,
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure,
    measure_each,
    progress,
    ratio_table,
)

WORDS = [
    "renewal",
    "invoice",
    "pricing",
    "contract",
    "onboarding",
    "escalation",
    "meeting",
    "churn",
    "upsell",
    "security",
    "audit",
    "roadmap",
    "integration",
    "migration",
    "discount",
]


def documents(n: int, rnd: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "key": f"doc-{i}",
            "kind": rnd.choice(["note", "fact", "preference"]),
            "text": " ".join(rnd.choices(WORDS, k=8)),
            "score": rnd.randint(0, 100),
            "team": rnd.choice(["sales", "support", "ops"]),
        }
        for i in range(n)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    try:
        from langgraph.store.postgres import PostgresStore
    except ImportError:
        console.print(
            "[yellow]langgraph-checkpoint-postgres is not installed "
            "(pip install '.[bench]'); skipping the memory peer[/]"
        )
        return
    n_single, n_batch, n_reads = (50, 200, 50) if args.quick else (500, 5000, 500)
    repeats = 2 if args.quick else 5
    rnd = random.Random(3)
    embedder = HashingEmbedder()
    console.print(machine())
    with (
        bench_database("mempeer", fast=args.fast) as db,
        Ledger(db.settings, migrate=False) as ledger,
    ):
        tenant = "bench"
        ledger.tenants.create(tenant)
        memory = ledger.tenant(tenant).memory
        index = {"dims": embedder.dimensions, "embed": embedder.embed, "fields": ["text"]}
        with PostgresStore.from_conn_string(db.owner_url, index=index) as store:  # type: ignore[arg-type,unused-ignore]
            store.setup()
            rows: list[tuple[Timing, Timing]] = []

            def ours_single() -> list[Callable[[], object]]:
                return [
                    lambda d=d: memory.upsert(  # type: ignore[misc]
                        d["kind"],
                        d["key"],
                        key=f"{uuid.uuid4()}",
                        summary=d["text"],
                        attrs={"score": d["score"], "team": d["team"]},
                        embedding=embedder.embed([d["text"]])[0],
                    )
                    for d in documents(n_single, rnd)
                ]

            def peer_single() -> list[Callable[[], object]]:
                ns = ("bench", uuid.uuid4().hex[:6])
                return [
                    lambda d=d: store.put(ns, d["key"], d)  # type: ignore[misc]
                    for d in documents(n_single, rnd)
                ]

            batch = documents(n_batch, rnd)
            vectors = embedder.embed([d["text"] for d in batch])

            def ours_batch() -> None:
                tag = uuid.uuid4().hex[:6]
                memory.upsert_many(
                    [
                        {
                            "kind": d["kind"],
                            "name": d["key"],
                            "key": f"{tag}-{d['key']}",
                            "summary": d["text"],
                            "attrs": {"score": d["score"], "team": d["team"]},
                            "embedding": v,
                        }
                        for d, v in zip(batch, vectors, strict=True)
                    ]
                )

            def peer_batch() -> None:
                from langgraph.store.base import PutOp

                ns = ("bench", uuid.uuid4().hex[:6])
                store.batch([PutOp(ns, d["key"], d) for d in batch])

            with progress() as bar:
                task = bar.add_task("writes", total=4)
                rows.append(
                    (
                        measure_each("upsert (agentledger)", ours_single, repeats=repeats),
                        measure_each("put (PostgresStore)", peer_single, repeats=repeats),
                    )
                )
                bar.advance(task, 2)
                rows.append(
                    (
                        measure(
                            f"upsert_many {n_batch} (agentledger)",
                            ours_batch,
                            units=n_batch,
                            repeats=repeats,
                        ),
                        measure(
                            f"batch put {n_batch} (PostgresStore)",
                            peer_batch,
                            units=n_batch,
                            repeats=repeats,
                        ),
                    )
                )
                bar.advance(task, 2)

            # Reads over one scoped collection each: the fixed batch loaded once.
            scope_tag = "scope"
            loaded = memory.upsert_many(
                [
                    {
                        "kind": d["kind"],
                        "name": d["key"],
                        "key": f"{scope_tag}-{d['key']}",
                        "summary": d["text"],
                        "attrs": {"score": d["score"], "team": d["team"]},
                        "embedding": v,
                        "tags": [scope_tag],
                    }
                    for d, v in zip(batch, vectors, strict=True)
                ]
            )
            ids = loaded.ids
            ns = ("bench", scope_tag)
            from langgraph.store.base import PutOp

            store.batch([PutOp(ns, d["key"], d) for d in batch])
            picks = [rnd.randrange(n_batch) for _ in range(n_reads)]
            queries = [" ".join(rnd.choices(WORDS, k=3)) for _ in range(n_reads // 5)]
            qvecs = embedder.embed(queries)
            where = Filter(tags=[scope_tag], attrs={"team": "sales"})

            with progress() as bar:
                task = bar.add_task("reads", total=6)
                rows.append(
                    (
                        measure_each(
                            "get by id (agentledger)",
                            lambda: [partial(memory.get, ids[i]) for i in picks],
                            repeats=repeats,
                        ),
                        measure_each(
                            "get by key (PostgresStore)",
                            lambda: [partial(store.get, ns, batch[i]["key"]) for i in picks],
                            repeats=repeats,
                        ),
                    )
                )
                bar.advance(task, 2)
                rows.append(
                    (
                        measure_each(
                            "filtered list (agentledger)",
                            lambda: [partial(memory.list, where, limit=10) for _ in queries],
                            repeats=repeats,
                        ),
                        measure_each(
                            "filtered search (PostgresStore)",
                            lambda: [
                                partial(store.search, ns, filter={"team": "sales"}, limit=10)
                                for _ in queries
                            ],
                            repeats=repeats,
                        ),
                    )
                )
                bar.advance(task, 2)
                rows.append(
                    (
                        measure_each(
                            "vector search, scoped (agentledger)",
                            lambda: [
                                partial(
                                    memory.search_vector,
                                    v,
                                    filter=Filter(tags=[scope_tag]),
                                    limit=10,
                                )
                                for v in qvecs
                            ],
                            repeats=repeats,
                        ),
                        measure_each(
                            "vector search, namespace (PostgresStore)",
                            lambda: [partial(store.search, ns, query=q, limit=10) for q in queries],
                            repeats=repeats,
                        ),
                    )
                )
                bar.advance(task, 2)
            console.print(
                ratio_table(
                    "Memory: agentledger vs LangGraph PostgresStore (time ratio < 1: ours faster)",
                    rows,
                )
            )

            # Recall@10 of each against exact cosine search over the same vectors.
            def exact(v: list[float]) -> set[str]:
                scored = sorted(
                    range(n_batch),
                    key=lambda i: -sum(a * b for a, b in zip(v, vectors[i], strict=True)),
                )
                return {batch[i]["key"] for i in scored[:10]}

            ours_hits = peer_hits = 0
            for q, v in zip(queries, qvecs, strict=True):
                truth = exact(v)
                ours_hits += len(
                    truth
                    & {
                        h.entity.name
                        for h in memory.search_vector(v, filter=Filter(tags=[scope_tag]), limit=10)
                    }
                )
                peer_hits += len(truth & {i.key for i in store.search(ns, query=q, limit=10)})
            total = 10 * len(queries)
            console.print(
                f"vector recall@10 vs exact: agentledger {ours_hits / total:.3f}, "
                f"PostgresStore {peer_hits / total:.3f} over {len(queries)} queries"
            )


if __name__ == "__main__":
    main()
