"""Worker processes killed with SIGKILL at random: no task is lost or completed twice."""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from agentledger import Ledger, Settings, Task
from agentledger.ledger_sync import Transaction
from agentledger.tasks.facade_sync import Tasks
from tests.procs import spawn_cli, spawn_worker, stop_when

TASKS = 1500


def _spawn(settings: Settings, tenant: str, queue: str) -> subprocess.Popen[str]:
    return spawn_worker("tests.task_proc", settings, tenant, queue)


@pytest.mark.slow
def test_sigkilled_workers_lose_nothing_and_complete_nothing_twice(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    tenant, queue = f"t-{uuid.uuid4().hex[:12]}", "kill"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE effects (task_id bigint, token uuid, pid int)")
    with Ledger(settings, migrate=False) as ledger:
        ledger.tenants.create(tenant)
        tasks = ledger.tenant(tenant).tasks
        from agentledger import NewTask

        ids = tasks.enqueue_many(
            queue, [NewTask(input={"i": i}, max_attempts=100) for i in range(TASKS)]
        )
        procs = [_spawn(settings, tenant, queue) for _ in range(3)]
        kills = 0
        rng = random.Random(7)
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline:
                time.sleep(rng.uniform(0.2, 0.5))
                [stats] = tasks.stats(queue)
                if stats.completed == TASKS:
                    break
                if kills < 12:
                    victim = procs.pop(rng.randrange(len(procs)))
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    procs.append(_spawn(settings, tenant, queue))
            # The survivors shut down gracefully on SIGTERM (once they say they are ready:
            # a process still starting up has no handler yet).
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                assert proc.wait(60) == 0
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        [stats] = tasks.stats(queue)
        assert stats.completed == TASKS, stats
        done = {t.id: t for t in _all(tasks, queue)}
    assert sorted(done) == sorted(ids)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT task_id, token::text FROM effects").fetchall()
    effects: dict[int, list[str]] = {}
    for task_id, token in rows:
        effects.setdefault(task_id, []).append(token)
    for task_id, task in done.items():
        # Completed exactly once, by the claim whose side effect is on record.
        assert task.output is not None and task.output["token"] in effects[task_id]
        # A handler ran more than once only for work rescued from a dead worker.
        if len(effects[task_id]) > 1:
            assert task.rescues >= 1 or task.attempts > 1
    rescued = sum(t.rescues for t in done.values())
    print(f"kills={kills} rescued={rescued} re-run={len(rows) - TASKS}")
    assert kills > 0


def _all(tasks: Tasks[Transaction], queue: str) -> list[Task]:
    out: list[Task] = []
    after = 0
    while page := tasks.list(queue=queue, after=after, limit=1000):
        out.extend(page)
        after = page[-1].id
    return out


@pytest.mark.slow
@pytest.mark.parametrize("handler", ["echo", "echo_async"])
def test_worker_command_runs_a_handler_by_import_path(settings: Settings, handler: str) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with Ledger(settings, migrate=False) as ledger:
        ledger.tenants.create(tenant)
        tasks = ledger.tenant(tenant).tasks
        ids = tasks.enqueue_many("cli", [{"i": i} for i in range(20)])
        proc = spawn_cli(
            settings, "worker", "cli", f"tests.task_proc:{handler}", "--tenant", tenant
        )
        out = stop_when(proc, lambda: tasks.stats("cli")[0].completed >= 20)
        assert proc.returncode == 0, out
        assert "completed=20" in out
        assert tasks.get(ids[3]).output == {"echo": {"i": 3}}
