"""The LangGraph integration against LangGraph's own Postgres classes, side by side on the
same server in the same run:

- store ``put``, ``get``, filtered ``search`` and ``search`` with a query in one namespace:
  ``AgentLedgerStore`` (memory entities, as the application role under row-level security)
  against ``PostgresStore`` (its own tables, as the owner), both embedding the same texts
  with the same hashing embedder;
- checkpointer ``put`` (one changed channel a step) and ``get_tuple`` (the latest of a
  thread, and a given one): ``AgentLedgerSaver`` against ``PostgresSaver``.

Ratios above 1 mean agentledger is slower.

    python -m bench.langgraph [--quick]
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from agentledger import HashingEmbedder, Ledger
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

WORDS = ["renewal", "invoice", "pricing", "contract", "onboarding", "escalation", "meeting"]
WORDS += ["churn", "upsell", "security", "audit", "roadmap", "integration", "discount"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.store.base import PutOp
        from langgraph.store.postgres import PostgresStore

        from agentledger.integrations.langgraph import AgentLedgerSaver, AgentLedgerStore
    except ImportError:
        console.print(
            "[yellow]langgraph-checkpoint-postgres is not installed (pip install '.[bench]'); "
            "skipping the LangGraph peers[/]"
        )
        return
    n_ops, n_loaded, steps = (30, 300, 20) if args.quick else (300, 5000, 200)
    repeats = 2 if args.quick else 5
    rnd = random.Random(5)
    embedder = HashingEmbedder()
    console.print(machine())
    with (
        bench_database("langgraph", fast=args.fast) as db,
        Ledger(db.settings, migrate=False) as ledger,
    ):
        ledger.tenants.create("bench")
        scope = ledger.tenant("bench")
        ours = AgentLedgerStore(scope, embedder=embedder, fields=["text"])
        index = {"dims": embedder.dimensions, "embed": embedder.embed, "fields": ["text"]}
        with (
            PostgresStore.from_conn_string(db.owner_url, index=index) as peer,  # type: ignore[arg-type,unused-ignore]
            PostgresSaver.from_conn_string(db.owner_url) as peer_saver,
        ):
            peer.setup()
            peer_saver.setup()
            stores: list[tuple[str, Any]] = [("AgentLedgerStore", ours), ("PostgresStore", peer)]
            rows: list[tuple[Timing, Timing]] = []

            def doc(i: int) -> dict[str, Any]:
                return {
                    "text": " ".join(rnd.choices(WORDS, k=8)),
                    "score": rnd.randint(0, 100),
                    "team": rnd.choice(["sales", "support", "ops"]),
                    "i": i,
                }

            def pair(name: str, work: Callable[[Any], object], units: int) -> tuple[Timing, Timing]:
                contenders = [(f"{name} ({label})", bound(work, s)) for label, s in stores]
                a, b = measure_alternately(contenders, units=units, repeats=repeats)
                return a, b

            with progress() as bar:
                task = bar.add_task("store", total=5)
                rows.append(
                    pair(
                        "put",
                        lambda s: [
                            s.put(("puts", uuid.uuid4().hex[:8]), f"k{i}", doc(i))
                            for i in range(n_ops)
                        ],
                        n_ops,
                    )
                )
                bar.advance(task)
                loaded = [doc(i) for i in range(n_loaded)]
                for _, s in stores:
                    s.batch([PutOp(("corpus", "team"), f"k{i}", d) for i, d in enumerate(loaded)])
                # Statistics as autovacuum would soon leave them: read plans chosen on a
                # table thought empty (memory's scope index over its dedup key) would time
                # the moment after a bulk load, not the store.
                with psycopg.connect(db.owner_url, autocommit=True) as conn:
                    conn.execute("ANALYZE agentledger.memory_entities, store, store_vectors")
                picks = [rnd.randrange(n_loaded) for _ in range(n_ops)]
                rows.append(
                    pair(
                        "get", lambda s: [s.get(("corpus", "team"), f"k{i}") for i in picks], n_ops
                    )
                )
                bar.advance(task)
                rows.append(
                    pair(
                        "search with a filter",
                        lambda s: [
                            s.search(("corpus",), filter={"score": {"$gte": 90}}, limit=10)
                            for _ in picks
                        ],
                        n_ops,
                    )
                )
                bar.advance(task)
                queries = [" ".join(rnd.choices(WORDS, k=3)) for _ in picks]
                rows.append(
                    pair(
                        "search with a query",
                        lambda s: [s.search(("corpus",), query=q, limit=10) for q in queries],
                        n_ops,
                    )
                )
                bar.advance(task)
                rows.append(
                    pair(
                        "search with a query and a filter",
                        lambda s: [
                            s.search(("corpus",), query=q, filter={"team": "ops"}, limit=10)
                            for q in queries
                        ],
                        n_ops,
                    )
                )
                bar.advance(task)

            savers: list[tuple[str, Any]] = [
                ("AgentLedgerSaver", AgentLedgerSaver(scope)),
                ("PostgresSaver", peer_saver),
            ]
            threads: dict[str, list[dict[str, Any]]] = {}

            def run_thread(label: str, saver: Any) -> None:
                """``steps`` checkpoints of a new thread, one channel changed a step."""
                thread = uuid.uuid4().hex
                config: dict[str, Any] = {
                    "configurable": {"thread_id": thread, "checkpoint_ns": ""}
                }
                messages: list[dict[str, str]] = []
                versions: dict[str, Any] = {}
                stored = []
                for step in range(steps):
                    messages = [*messages, {"role": "user", "content": " ".join(WORDS[:5])}]
                    versions = {
                        "messages": saver.get_next_version(versions.get("messages"), None),
                        "step": saver.get_next_version(versions.get("step"), None),
                    }
                    checkpoint = {
                        "v": 4,
                        "id": str(uuid.uuid1()),
                        "ts": datetime.now(UTC).isoformat(),
                        "channel_values": {"messages": messages, "step": step},
                        "channel_versions": dict(versions),
                        "versions_seen": {"agent": dict(versions)},
                        "updated_channels": ["messages", "step"],
                    }
                    metadata = {"source": "loop", "step": step, "parents": {}}
                    config = saver.put(config, checkpoint, metadata, dict(versions))
                    stored.append(config)
                threads[label] = stored

            with progress() as bar:
                task = bar.add_task("checkpoints", total=3)
                puts = [(f"put ({label})", bound(run_thread, label, s)) for label, s in savers]
                timings = measure_alternately(puts, units=steps, repeats=repeats)
                rows.append((timings[0], timings[1]))
                bar.advance(task)

                def latest(label: str, saver: Any) -> None:
                    thread = threads[label][0]["configurable"]["thread_id"]
                    for _ in range(n_ops):
                        saver.get_tuple(
                            {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
                        )

                def given(label: str, saver: Any) -> None:
                    for config in rnd.sample(threads[label], min(n_ops, steps)):
                        saver.get_tuple(config)

                reads: list[tuple[str, Callable[[str, Any], None], int]] = [
                    ("get_tuple latest", latest, n_ops),
                    ("get_tuple by id", given, min(n_ops, steps)),
                ]
                for name, read, units in reads:
                    gets = [(f"{name} ({label})", bound(read, label, s)) for label, s in savers]
                    timings = measure_alternately(gets, units=units, repeats=repeats)
                    rows.append((timings[0], timings[1]))
                    bar.advance(task)
            console.print(ratio_table("LangGraph store and checkpointer", rows))


def bound(fn: Callable[..., object], *args: Any) -> Callable[[], object]:
    """``fn`` with its arguments, called with none (a contender of measure_alternately)."""
    return lambda: fn(*args)


if __name__ == "__main__":
    main()
