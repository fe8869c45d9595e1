"""Task exactly-once under SIGKILL: worker processes are killed at random while they hold
claimed batches; every task is completed, none lost, and each task's side effect (written
in the transaction that completes it) is stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from agentledger import Ledger, NewTask
from chaos.common import OwnServer, Result, own_server

NAME = "Task exactly-once under SIGKILL"
METHOD = (
    "tasks enqueued, 3 transactional worker processes (concurrency 4, lease 1 s) whose "
    "handler appends an event in the completing transaction; a random worker SIGKILLed "
    "0.2-0.5 s after it started working, and replaced; then tasks and effect events "
    "compared as the owner"
)
ROOT = Path(__file__).resolve().parents[1]


def _spawn(own: OwnServer, tenant: str, queue: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos.task_worker",
            own.url,
            str(own.dir / "data"),
            tenant,
            queue,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _ready(proc: subprocess.Popen[str], working: set[int]) -> None:
    """Wait for the worker's "ready" (once): from then on it claims and runs tasks."""
    if proc.pid not in working and proc.stdout is not None:
        proc.stdout.readline()
        working.add(proc.pid)


def run(quick: bool) -> Result:
    count, max_kills = (200, 3) if quick else (20_000, 40)
    result = Result(NAME, METHOD)
    rng = random.Random(8)
    with own_server(durable=False) as own:
        tenant, queue = f"tk-{uuid.uuid4().hex[:6]}", "chaos"
        with Ledger(own.settings(), migrate=False) as ledger:
            ledger.tenants.create(tenant)
            tasks = ledger.tenant(tenant).tasks
            ids = tasks.enqueue_many(
                queue, [NewTask(input={"i": i}, max_attempts=100) for i in range(count)]
            )
            procs = [_spawn(own, tenant, queue) for _ in range(3)]
            deadline = time.monotonic() + 300
            completed = 0
            working: set[int] = set()
            try:
                while time.monotonic() < deadline:
                    [stats] = tasks.stats(queue)
                    completed = stats.completed
                    if completed == count:
                        break
                    if result.faults >= max_kills:
                        time.sleep(0.2)
                        continue
                    victim = procs[rng.randrange(len(procs))]
                    _ready(victim, working)
                    time.sleep(rng.uniform(0.2, 0.5))  # mid-batch, at a random moment
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    result.faults += 1
                    procs.remove(victim)
                    procs.append(_spawn(own, tenant, queue))
                for proc in procs:
                    _ready(proc, working)  # SIGTERM is graceful from then on
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(60)
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
        with own.owner() as conn:
            rows = conn.execute(
                "SELECT id, status, attempts, rescues, output->>'token' FROM agentledger.tasks "
                "WHERE tenant_id = %s",
                (tenant,),
            ).fetchall()
            effects = conn.execute(
                "SELECT stream, payload->>'token' FROM agentledger.events WHERE tenant_id = %s",
                (tenant,),
            ).fetchall()
    by_task: dict[int, list[str]] = {}
    for stream, token in effects:
        by_task.setdefault(int(stream.removeprefix("effect-")), []).append(token)
    status = {r[0]: r for r in rows}
    done = [r for r in rows if r[1] == "completed"]
    result.operations = count
    result.acknowledged = len(ids)
    result.lost = len(set(ids) - set(status)) + sum(r[1] != "completed" for r in rows)
    result.duplicated = sum(len(v) - 1 for v in by_task.values())
    mismatched = sum(by_task.get(r[0], [None]) != [r[4]] for r in done)
    orphans = len(set(by_task) - {r[0] for r in done})
    result.details = {
        "completed": len(done),
        "rescued": sum(r[3] for r in rows),
        "re_run": sum(max(0, r[2] - 1) for r in rows),
        "effects": len(effects),
        "effect_not_of_completing_claim": mismatched,
        "effects_of_unfinished_tasks": orphans,
    }
    return result.decide(
        "no worker was killed" if result.faults == 0 else "",
        f"{mismatched} effects not of the completing claim" if mismatched else "",
        f"{orphans} effects of unfinished tasks" if orphans else "",
    )
