"""Embedding spaces at OpenAI's size (1536 dimensions), side by side in one run:

- single and batch upserts against LangGraph's PostgresStore, both given the same vectors;
- the transfer of a 10k batch of vectors as pgvector's text form (the numbers printed in
  Python and parsed by the server) against its binary form (``Vectors``), raw psycopg
  into the same table;
- vector search in the space, scoped to one user: p50 / p99 latency and recall@10 against
  exact search over that user's vectors, with the full k returned;
- with ``--binary``, binary quantisation with re-ranking (pgvector's documented approach):
  an HNSW index over ``binary_quantize(embedding)::bit(1536)`` with ``bit_hamming_ops``,
  k x ratio candidates by Hamming distance re-ranked by exact cosine, against the plain
  ``vector`` HNSW index: p50 / p99, recall@10 against exact search, index size and build
  time (raw psycopg on a table of the same clustered vectors, indexes built after the load).

    python -m bench.memory_spaces [--quick] [--entities N] [--binary]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import numpy as np
import psycopg

from agentledger import Filter, Ledger, NewEntity
from agentledger.db.adapters import VECTOR_TYPES, register_vector
from agentledger.db.types import Vector, Vectors
from bench.common import (
    Timing,
    add_fast_flag,
    bench_database,
    console,
    machine,
    measure,
    progress,
    ratio_table,
)

DIMS = 1536


def unit_rows(seed: int, n: int) -> Any:
    m = np.random.default_rng(seed).standard_normal((n, DIMS)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def clustered_rows(seed: int, n: int, centroids: Any) -> Any:
    """Unit vectors around topics, as a model's embeddings of related texts fall (random
    vectors of 1536 dimensions are all about equally far apart: no neighbourhood to find)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(centroids), n)
    m = centroids[picks] + 0.6 * rng.standard_normal((n, DIMS)).astype(np.float32) / DIMS**0.5
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--entities", type=int, default=None, help="entities searched")
    parser.add_argument(
        "--binary", action="store_true", help="only binary quantisation against plain HNSW"
    )
    parser.add_argument(
        "--library-entities",
        type=int,
        default=None,
        help="with --binary: entities searched through the library's spaces (0: none)",
    )
    args = parser.parse_args(argv)
    if args.binary:
        console.print(machine())
        with bench_database("binary", fast=args.fast) as db:
            _binary(db.owner_url, args.entities or (5000 if args.quick else 100_000))
            through = args.library_entities
            through = (2000 if args.quick else 10_000) if through is None else through
            if through:
                with Ledger(db.settings, migrate=False) as ledger:
                    _binary_library(ledger, through)
        return
    n_single, n_batch, n_transfer = (50, 250, 2000) if args.quick else (200, 500, 10_000)
    n_search = args.entities or (2000 if args.quick else 10_000)
    repeats = 2 if args.quick else 5
    console.print(machine())
    with (
        bench_database("spaces", fast=args.fast) as db,
        Ledger(db.settings, migrate=False) as ledger,
    ):
        ledger.tenants.create("bench")
        memory = ledger.tenant("bench").memory
        memory.declare_space("openai-small", dimensions=DIMS, model="text-embedding-3-small")
        rows: list[tuple[Timing, Timing]] = []
        single = unit_rows(1, n_single)
        batch = unit_rows(2, n_batch)
        texts = {f"text {i}": batch[i] for i in range(n_batch)}
        texts.update({f"single {i}": single[i] for i in range(n_single)})
        rows += _peer_writes(db.owner_url, memory, single, batch, texts, repeats)
        rows.append(_transfer(db.owner_url, n_transfer, repeats))
        console.print(ratio_table("1536-dim vectors (time ratio < 1: the first is faster)", rows))
        _search(memory, n_search)


def _peer_writes(
    url: str, memory: Any, single: Any, batch: Any, texts: dict[str, Any], repeats: int
) -> list[tuple[Timing, Timing]]:
    try:
        from langgraph.store.base import PutOp
        from langgraph.store.postgres import PostgresStore
    except ImportError:
        console.print("[yellow]langgraph-checkpoint-postgres is not installed; no peer[/]")
        return []

    def embed(items: list[str]) -> list[list[float]]:
        return [texts[t].tolist() for t in items]

    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    with PostgresStore.from_conn_string(url, index=index) as store:  # type: ignore[arg-type,unused-ignore]
        store.setup()

        def ours_single() -> None:
            tag = uuid.uuid4().hex[:6]
            for i, vec in enumerate(single):
                memory.upsert(
                    "note", f"single {i}", key=f"{tag}-{i}", embedding=vec, space="openai-small"
                )

        def peer_single() -> None:
            ns = ("bench", uuid.uuid4().hex[:6])
            for i in range(len(single)):
                store.put(ns, f"k{i}", {"text": f"single {i}"})

        def ours_batch() -> None:
            tag = uuid.uuid4().hex[:6]
            memory.upsert_many(
                NewEntity(
                    kind="note",
                    name=f"text {i}",
                    key=f"{tag}-{i}",
                    embedding=vec,
                    space="openai-small",
                )
                for i, vec in enumerate(batch)
            )

        def peer_batch() -> None:
            ns = ("bench", uuid.uuid4().hex[:6])
            store.batch([PutOp(ns, f"k{i}", {"text": f"text {i}"}) for i in range(len(batch))])

        with progress() as bar:
            task = bar.add_task("writes", total=2)
            out = [
                (
                    measure(
                        "upsert 1536-dim (agentledger)",
                        ours_single,
                        units=len(single),
                        repeats=repeats,
                    ),
                    measure(
                        "put 1536-dim (PostgresStore)",
                        peer_single,
                        units=len(single),
                        repeats=repeats,
                    ),
                )
            ]
            bar.advance(task)
            out.append(
                (
                    measure(
                        f"upsert_many {len(batch)} (agentledger)",
                        ours_batch,
                        units=len(batch),
                        repeats=repeats,
                    ),
                    measure(
                        f"batch put {len(batch)} (PostgresStore)",
                        peer_batch,
                        units=len(batch),
                        repeats=repeats,
                    ),
                )
            )
            bar.advance(task)
        return out


TRANSFER_SQL = """
INSERT INTO bench_vectors (id, embedding)
SELECT * FROM unnest(%s::int[], %s::vector[])
"""


def _transfer(url: str, n: int, repeats: int) -> tuple[Timing, Timing]:
    """A batch of n vectors into one table: binary (checked and packed here) vs text."""
    vectors = unit_rows(3, n)
    ids = list(range(n))
    with psycopg.connect(url, autocommit=True) as conn:
        oid, array_oid = conn.execute(VECTOR_TYPES).fetchone()  # type: ignore[misc]
        register_vector(conn, oid, array_oid)
        conn.execute(f"CREATE UNLOGGED TABLE bench_vectors (id int, embedding vector({DIMS}))")

        def binary() -> None:
            packed = Vectors(Vector(vectors.vector("embedding", x)) for x in vectors)
            conn.execute("TRUNCATE bench_vectors")
            conn.execute(TRANSFER_SQL, [ids, packed])

        def text() -> None:
            # The form the library sent before: each number printed by Python.
            printed = ["[" + ",".join(map(repr, x.tolist())) + "]" for x in vectors]
            conn.execute("TRUNCATE bench_vectors")
            conn.execute(
                TRANSFER_SQL.replace("%s::vector[]", "%s::text[]::vector[]"), [ids, printed]
            )

        return (
            measure(f"{n} vectors in binary", binary, units=n, repeats=repeats),
            measure(f"{n} vectors as text", text, units=n, repeats=repeats),
        )


def _search(memory: Any, n: int) -> None:
    """Latency and recall@10 of a user's vector search in the space, against exact search."""
    users = 10
    topics = unit_rows(6, max(10, n // 100))
    vectors = clustered_rows(4, n, topics)
    with progress() as bar:
        task = bar.add_task(f"loading {n} entities", total=n)
        for start in range(0, n, 250):  # HNSW inserts of 1536 numbers: short statements
            chunk = vectors[start : start + 250]
            memory.upsert_many(
                NewEntity(
                    kind="doc",
                    name=f"doc {start + i}",
                    user_id=f"u{(start + i) % users}",
                    embedding=vec,
                    space="openai-small",
                )
                for i, vec in enumerate(chunk)
            )
            bar.advance(task, len(chunk))
    queries = clustered_rows(5, 100, topics)
    user = "u3"
    mine = np.arange(3, n, users)
    latencies: list[float] = []
    found = full = 0
    for q in queries:
        began = time.perf_counter()
        hits = memory.search_vector(
            q, space="openai-small", filter=Filter(user=user, scope="own"), limit=10
        )
        latencies.append(time.perf_counter() - began)
        exact = {f"doc {mine[i]}" for i in np.argsort(-(vectors[mine] @ q))[:10]}
        found += len(exact & {h.entity.name for h in hits})
        full += len(hits) == 10
    latencies.sort()
    console.print(
        f"vector search in a {DIMS}-dim space, {n} entities, one user's {len(mine)} "
        f"(scope own): p50 {1000 * statistics.median(latencies):.1f} ms, "
        f"p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:.1f} ms, "
        f"recall@10 {found / (10 * len(queries)):.3f}, full k in {full}/{len(queries)}"
    )


BINARY_TABLE = f"""
CREATE TABLE bench_docs (id int PRIMARY KEY, embedding vector({DIMS}) NOT NULL)
"""
PLAIN_INDEX = "CREATE INDEX bench_docs_plain ON bench_docs USING hnsw (embedding vector_cosine_ops)"
BINARY_INDEX = f"""
CREATE INDEX bench_docs_binary ON bench_docs
USING hnsw ((binary_quantize(embedding)::bit({DIMS})) bit_hamming_ops)
"""
PLAIN_QUERY = "SELECT id FROM bench_docs ORDER BY embedding <=> %(q)s::vector LIMIT %(k)s"
# pgvector's README: candidates by Hamming distance over the bits, re-ranked by the vectors.
# DIMS is a constant: nothing of the input is formatted in.
BINARY_QUERY = f"""
SELECT c.id FROM (
    SELECT d.id, d.embedding FROM bench_docs d
    ORDER BY binary_quantize(d.embedding)::bit({DIMS}) <~> binary_quantize(%(q)s::vector)
    LIMIT %(candidates)s
) c
ORDER BY c.embedding <=> %(q)s::vector
LIMIT %(k)s
"""  # noqa: S608


def _binary(url: str, n: int) -> None:
    """Binary quantisation with re-ranking against the plain HNSW index, same vectors."""
    k = 10
    topics = unit_rows(6, max(10, n // 100))
    vectors = clustered_rows(4, n, topics)
    queries = clustered_rows(5, 100, topics)
    truth = [set(np.argsort(-(vectors @ q))[:k].tolist()) for q in queries]
    with psycopg.connect(url, autocommit=True) as conn:
        oid, array_oid = conn.execute(VECTOR_TYPES).fetchone()  # type: ignore[misc]
        register_vector(conn, oid, array_oid)
        conn.execute(BINARY_TABLE)
        conn.execute("SET maintenance_work_mem = '2GB'")
        with progress() as bar:
            task = bar.add_task(f"loading {n} vectors", total=n)
            for start in range(0, n, 5000):
                chunk = vectors[start : start + 5000]
                conn.execute(
                    "INSERT INTO bench_docs SELECT * FROM unnest(%s::int[], %s::vector[])",
                    [
                        list(range(start, start + len(chunk))),
                        Vectors(Vector(vectors.vector("embedding", x)) for x in chunk),
                    ],
                )
                bar.advance(task, len(chunk))
        conn.execute("VACUUM ANALYZE bench_docs")
        heap = conn.execute("SELECT pg_table_size('bench_docs')").fetchone()[0]  # type: ignore[index]
        built: dict[str, tuple[float, int]] = {}
        for name, ddl in (("binary", BINARY_INDEX), ("plain", PLAIN_INDEX)):
            with console.status(f"building the {name} HNSW index over {n} vectors"):
                began = time.perf_counter()
                conn.execute(ddl)
                took = time.perf_counter() - began
            size = conn.execute(
                "SELECT pg_relation_size(%s::regclass)", [f"bench_docs_{name}"]
            ).fetchone()[0]  # type: ignore[index]
            built[name] = (took, size)
            console.print(f"{name} index: built in {took:.1f} s, {size / 2**20:.1f} MiB")
        console.print(f"table (vectors): {heap / 2**20:.1f} MiB")
        lines = []
        for label, sql, params in [
            ("plain vector HNSW, ef_search 40", PLAIN_QUERY, {"ef": 40}),
            ("plain vector HNSW, ef_search 100", PLAIN_QUERY, {"ef": 100}),
            *[
                (
                    f"binary HNSW, {k * r} candidates re-ranked (ratio {r})",
                    BINARY_QUERY,
                    {"ef": max(40, k * r), "candidates": k * r},
                )
                for r in (2, 4, 10, 20)
            ],
        ]:
            conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(params["ef"])])
            latencies: list[float] = []
            found = 0
            for _ in range(2):  # the first round warms the cache; the second is measured
                latencies, found = [], 0
                for q, exact in zip(queries, truth, strict=True):
                    began = time.perf_counter()
                    ids = conn.execute(
                        sql,
                        {
                            "q": Vector(vectors.vector("q", q)),
                            "k": k,
                            "candidates": params.get("candidates", k),
                        },
                    ).fetchall()
                    latencies.append(time.perf_counter() - began)
                    found += len(exact & {r[0] for r in ids})
            latencies.sort()
            lines.append(
                f"{label}: p50 {1000 * statistics.median(latencies):.2f} ms, "
                f"p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:.2f} ms, "
                f"recall@10 {found / (k * len(queries)):.3f}"
            )
        plan = conn.execute(
            "EXPLAIN " + BINARY_QUERY,
            {"q": Vector(vectors.vector("q", queries[0])), "k": k, "candidates": 40},
        ).fetchall()
        console.print(f"{n} clustered {DIMS}-dim vectors, 100 queries, k={k}:", *lines, sep="\n")
        # The plan's nodes, without the query vector and its bits printed in full.
        console.print("binary plan:", *(r[0].split(" <~> ")[0][:100] for r in plan), sep="\n")


def _binary_library(ledger: Ledger, n: int) -> None:
    """The same comparison through the library: a plain and a binary-quantised space
    (re-rank 10) holding the same vectors, searched with ``search_vector``."""
    k = 10
    ledger.tenants.create("bench")
    memory = ledger.tenant("bench").memory
    memory.declare_space("plain", dimensions=DIMS)
    memory.declare_space("bits", dimensions=DIMS, quantization="binary", rerank=10)
    topics = unit_rows(6, max(10, n // 100))
    vectors = clustered_rows(4, n, topics)
    with progress() as bar:
        task = bar.add_task(f"loading {n} entities into both spaces", total=n)
        for start in range(0, n, 250):
            chunk = vectors[start : start + 250]
            memory.upsert_many(
                NewEntity(
                    kind="doc",
                    name=f"doc {start + i}",
                    embedding=vec,
                    space="plain",
                    embeddings={"bits": vec},
                )
                for i, vec in enumerate(chunk)
            )
            bar.advance(task, len(chunk))
    queries = clustered_rows(5, 100, topics)
    truth = [{f"doc {j}" for j in np.argsort(-(vectors @ q))[:k]} for q in queries]
    for space in ("plain", "bits"):
        latencies: list[float] = []
        found = 0
        for _ in range(2):  # the first round warms the cache; the second is measured
            latencies, found = [], 0
            for q, exact in zip(queries, truth, strict=True):
                began = time.perf_counter()
                hits = memory.search_vector(q, space=space, limit=k)
                latencies.append(time.perf_counter() - began)
                found += len(exact & {h.entity.name for h in hits})
        latencies.sort()
        console.print(
            f"library search_vector, space {space!r}, {n} entities: "
            f"p50 {1000 * statistics.median(latencies):.2f} ms, "
            f"p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:.2f} ms, "
            f"recall@10 {found / (k * len(queries)):.3f}"
        )


if __name__ == "__main__":
    main()
