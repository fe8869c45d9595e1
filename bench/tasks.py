"""Task queue benchmark: batch enqueue and one-process processing of no-op tasks.

``python -m bench.tasks [--quick] [--tasks N]`` compares, in one run on one server:
agentledger (the sync Ledger and its worker), the same statements through raw psycopg
(transaction + tenant binding), a bare minimal queue table (batch SKIP LOCKED claim and
batch completion), and the peers pgqueuer and procrastinate when they are installed
(``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from agentledger import Ledger
from agentledger.db.adapters import register_adapters
from agentledger.db.connect import connection_kwargs
from agentledger.db.types import Bigints, Uuids
from agentledger.tasks.batch import BATCH_ARRAYS, SHAREABLE
from agentledger.tasks.cycle import RESULT_COLUMNS, STATUS_PARAMS
from agentledger.tasks.ops import Q
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

BATCH = 100  # tasks per claim, for every contender
RAW_TABLE = """
CREATE TABLE IF NOT EXISTS raw_jobs (
    id bigserial PRIMARY KEY, queue text NOT NULL, priority int NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'pending', payload jsonb NOT NULL,
    run_after timestamptz NOT NULL DEFAULT now(), lease_expires_at timestamptz);
CREATE INDEX IF NOT EXISTS raw_jobs_ready ON raw_jobs (queue, priority DESC, run_after, id)
    WHERE status = 'pending';
"""
RAW_ENQUEUE = (
    "INSERT INTO raw_jobs (queue, payload) SELECT 'bench', p::jsonb FROM unnest(%s::text[]) p"
)
RAW_CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT id FROM raw_jobs WHERE queue = 'bench' AND status = 'pending' AND run_after <= now()
    ORDER BY priority DESC, run_after, id LIMIT %s FOR UPDATE SKIP LOCKED)
UPDATE raw_jobs j SET status = 'running', lease_expires_at = now() + interval '60 seconds'
FROM picked WHERE j.id = picked.id RETURNING j.id, j.payload
"""
RAW_COMPLETE = "UPDATE raw_jobs SET status = 'completed' WHERE id = ANY(%s)"


Scenario = tuple[str, Callable[[], object], Callable[[], object]]  # label, run, setup


def timed_alternately(plan: list[Scenario], *, units: int, repeats: int) -> dict[str, Timing]:
    """The scenarios measured in turn (bench.common.measure_alternately), each run after
    its untimed setup, with a progress bar of the runs started."""
    setups = {label: setup for label, _, setup in plan}
    with progress() as bar:
        job = bar.add_task("runs", total=len(plan) * (repeats + 1))

        def before(label: str) -> None:
            bar.update(job, description=label, advance=1)
            setups[label]()

        timings = measure_alternately(
            [(label, fn) for label, fn, _ in plan], units=units, repeats=repeats, setup=before
        )
    return {t.label: t for t in timings}


class Contenders:
    def __init__(self, db: Any, n: int) -> None:
        self.db = db
        self.n = n
        self.ledger = Ledger(db.settings, migrate=False).open()
        self.ledger.tenants.create("bench", exist_ok=True)
        self.scope = self.ledger.tenant("bench")
        self.owner = psycopg.connect(db.owner_url, autocommit=True)
        self.owner.execute(RAW_TABLE)
        # The library's session settings and wire adapters: "same SQL" differs from ours
        # only in the Python around the statements.
        self.app = psycopg.connect(
            db.app_url, **connection_kwargs(db.settings), row_factory=dict_row
        )
        register_adapters(self.app)
        self.inputs = [{"i": i} for i in range(n)]

    def close(self) -> None:
        self.ledger.close()
        self.owner.close()
        self.app.close()

    def reset(self) -> None:
        self.owner.execute("TRUNCATE agentledger.tasks, raw_jobs")

    # -- enqueue ----------------------------------------------------------------
    def enqueue_ours(self) -> None:
        self.scope.tasks.enqueue_many("bench", self.inputs)

    def enqueue_same_sql(self) -> None:
        """The statement our enqueue_many sends for a batch without dedup keys: one value
        per task for the inputs, one for the batch for every column the tasks share."""
        params = {
            **{BATCH_ARRAYS[field]: None for field in SHAREABLE},
            "queue": "bench",
            "task_type": "",
            "agent_name": None,
            "priority": 0,
            "max_attempts": 5,
            "retry_delay": 1.0,
            "run_after": None,
            "session_id": None,
            "entity_id": None,
            "inputs": [json.dumps(i) for i in self.inputs],
        }
        with self.app.transaction(), self.app.cursor() as cur:
            cur.execute("SELECT agentledger.bind_tenant(%s)", ("bench",))
            cur.execute(Q.enqueue_many_plain.sql, params)
            cur.fetchall()
            cur.execute(Q.notify_queues.sql, {"queues": ["bench"]})

    def enqueue_bare(self) -> None:
        with self.owner.transaction():
            self.owner.execute(RAW_ENQUEUE, ([json.dumps(i) for i in self.inputs],))

    # -- process ----------------------------------------------------------------
    def process_ours(self) -> None:
        worker = self.scope.tasks.worker("bench", lambda t: None, concurrency=BATCH)
        stats = worker.run(until_empty=True)
        assert stats.completed == self.n, stats

    def process_same_sql(self) -> None:
        """The worker's statement (settle the last batch, claim the next) and nothing else,
        its rows read by position (in binary) as a raw driver user would."""
        done = 0
        claimed: list[tuple[Any, ...]] = []
        token = None
        with self.app.cursor(row_factory=tuple_row) as cur:
            while True:
                with self.app.transaction():
                    cur.execute("SELECT agentledger.bind_tenant(%s)", ("bench",))
                    cur.execute(
                        Q.settle_and_claim.sql,
                        {
                            "queue": "bench",
                            "limit": BATCH,
                            "lease": 60.0,
                            "worker": "raw",
                            "agent": None,
                            **_completing(claimed, token),
                        },
                        binary=True,  # as the library reads it
                    )
                    result = cur.fetchall()
                summary = next(r for r in result if r[0] is None)
                done += len(summary[SETTLED] or ())
                token = summary[TOKEN]
                claimed = [r for r in result if r[0] is not None]
                if not claimed:
                    break
        assert done == self.n

    def process_bare(self) -> None:
        done = 0
        with self.owner.cursor() as cur:
            while True:
                cur.execute(RAW_CLAIM, (BATCH,))
                ids = [row[0] for row in cur.fetchall()]
                if not ids:
                    break
                cur.execute(RAW_COMPLETE, (ids,))
                done += len(ids)
        assert done == self.n


# settle_and_claim's result columns read here: the summary row's settled ids and the
# claim's token (a claimed task's row starts with its id).
SETTLED = RESULT_COLUMNS.index("settled_ids")
TOKEN = RESULT_COLUMNS.index("token")


def _completing(claimed: list[tuple[Any, ...]], token: Any) -> dict[str, Any]:
    """The statement's parameters for completing ``claimed``, all held under ``token`` (as
    a raw driver user would write them, its arrays packed and typed as the library sends
    them)."""
    return {
        "done_ids": Bigints(r[0] for r in claimed),
        "done_tokens": Uuids([token] * len(claimed)),
        "ids": Bigints(),
        "outcomes": "{}",
        **STATUS_PARAMS,
    }


# -- peers ------------------------------------------------------------------------
class PgQueuer:
    def __init__(self, url: str, n: int) -> None:
        self.url, self.n = url, n

    async def _conn(self) -> Any:
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True)

    def install(self) -> None:
        from pgqueuer import PsycopgDriver, Queries

        async def go() -> None:
            conn = await self._conn()
            await Queries(PsycopgDriver(conn)).install()
            await conn.close()

        asyncio.run(go())

    def reset(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("TRUNCATE pgqueuer, pgqueuer_log")

    def enqueue(self) -> None:
        from pgqueuer import PsycopgDriver, Queries

        async def go() -> None:
            conn = await self._conn()
            await Queries(PsycopgDriver(conn)).enqueue(
                ["noop"] * self.n, [None] * self.n, [0] * self.n
            )
            await conn.close()

        asyncio.run(go())

    def process(self) -> None:
        from datetime import timedelta

        from pgqueuer import PsycopgDriver, Queries, QueueManager
        from pgqueuer.types import QueueExecutionMode

        async def go() -> None:
            conn = await self._conn()
            qm = QueueManager(Queries(PsycopgDriver(conn)))

            @qm.entrypoint("noop")
            async def noop(job: Any) -> None:
                return None

            await qm.run(
                batch_size=BATCH,
                mode=QueueExecutionMode.drain,
                dequeue_timeout=timedelta(seconds=0.5),
            )
            await conn.close()

        asyncio.run(go())


class Procrastinate:
    def __init__(self, url: str, n: int) -> None:
        import procrastinate

        self.url, self.n = url, n
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

        @self.app.task(name="noop", queue="bench")
        async def noop() -> None:
            return None

        self.task = noop

    def install(self) -> None:
        async def go() -> None:
            async with self.app.open_async():
                await self.app.schema_manager.apply_schema_async()

        asyncio.run(go())

    def reset(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def enqueue(self) -> None:
        async def go() -> None:
            async with self.app.open_async():
                await self.task.batch_defer_async(*([{}] * self.n))

        asyncio.run(go())

    def process(self) -> None:
        async def go() -> None:
            async with self.app.open_async():
                await self.app.run_worker_async(
                    queues=["bench"], wait=False, concurrency=10, install_signal_handlers=False
                )

        asyncio.run(go())


def then(*steps: Callable[[], object]) -> Callable[[], None]:
    """One setup step made of several, run in order."""

    def run() -> None:
        for step in steps:
            step()

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--tasks", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.tasks or (500 if args.quick else 20_000)
    repeats = 1 if args.quick else 5
    console.print(f"tasks benchmark: {n} no-op tasks, batches of {BATCH}; {machine()}")
    with bench_database("tasks", fast=args.fast) as db:
        c = Contenders(db, n)
        peers: list[tuple[str, Any]] = []
        for name, cls in (("pgqueuer", PgQueuer), ("procrastinate", Procrastinate)):
            try:
                peer = cls(db.owner_url, n)
                peer.install()
                peers.append((name, peer))
            except Exception as exc:  # a peer that cannot run here is reported, not faked
                console.print(f"[yellow]{name} unavailable: {type(exc).__name__}: {exc}[/]")
        try:
            filled = c.enqueue_ours
            enqueues: list[Scenario] = [
                ("enqueue agentledger", c.enqueue_ours, c.reset),
                ("enqueue same SQL, raw psycopg", c.enqueue_same_sql, c.reset),
                ("enqueue bare table, raw psycopg", c.enqueue_bare, c.reset),
            ]
            processes: list[Scenario] = [
                ("process agentledger worker", c.process_ours, then(c.reset, filled)),
                ("process same SQL, raw psycopg", c.process_same_sql, then(c.reset, filled)),
                ("process bare table, raw psycopg", c.process_bare, then(c.reset, c.enqueue_bare)),
            ]
            for name, peer in peers:
                enqueues.append((f"enqueue {name}", peer.enqueue, peer.reset))
                processes.append((f"process {name}", peer.process, then(peer.reset, peer.enqueue)))
            # Enqueues first, all of them: the processing rounds leave every queue table
            # to autovacuum, which would otherwise land on whichever enqueue ran next.
            results = timed_alternately(enqueues, units=n, repeats=repeats)
            results |= timed_alternately(processes, units=n, repeats=repeats)
        finally:
            c.close()
    r = results
    rows = [
        (r["enqueue agentledger"], r["enqueue same SQL, raw psycopg"]),
        (r["enqueue agentledger"], r["enqueue bare table, raw psycopg"]),
        (r["process agentledger worker"], r["process same SQL, raw psycopg"]),
        (r["process agentledger worker"], r["process bare table, raw psycopg"]),
    ]
    for name, _ in peers:
        rows.append((r["enqueue agentledger"], r[f"enqueue {name}"]))
        rows.append((r["process agentledger worker"], r[f"process {name}"]))
    console.print(ratio_table(f"tasks: {n} no-op tasks (time ratio < 1: ours is faster)", rows))


if __name__ == "__main__":
    main()
