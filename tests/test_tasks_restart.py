"""PostgreSQL stopped and restarted while workers are busy: every task completes once."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agentledger import Ledger, NewTask, Settings, Task
from agentledger.db import migrate
from agentledger.db.embedded import EmbeddedServer
from agentledger.tasks.worker import Worker
from tests.conftest import server_dir

pytestmark = pytest.mark.slow

TASKS = 3000
WORKERS = 2


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedServer]:
    """A durable server of our own (not FAST_OPTIONS): we stop it under load."""
    server = EmbeddedServer(server_dir())
    server.start()
    migrate.upgrade(server.url())
    yield server
    server.stop(mode="immediate")
    shutil.rmtree(server.data_dir, ignore_errors=True)


def _completed(url: str, tenant: str) -> int:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT count(*) FROM agentledger.tasks WHERE tenant_id = %s "
                "AND status = 'completed'",
                (tenant,),
            ).fetchone()
    except psycopg.OperationalError:
        return -1  # the server is away
    assert row is not None
    return int(row[0])


def test_workers_ride_out_a_server_restart(own_server: EmbeddedServer, tmp_path: Path) -> None:
    url = own_server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        # One row per task whose handler ran; a second run counts up instead.
        conn.execute("CREATE TABLE effects (task_id bigint PRIMARY KEY, runs int NOT NULL)")
    local = threading.local()

    def handle(task: Task) -> dict[str, Any]:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = local.conn = psycopg.connect(url, autocommit=True, connect_timeout=2)
        time.sleep(0.002)  # a little work, so the restart lands mid-stream
        conn.execute(
            "INSERT INTO effects (task_id, runs) VALUES (%s, 1) "
            "ON CONFLICT (task_id) DO UPDATE SET runs = effects.runs + 1",
            (task.id,),
        )
        return {"token": str(task.claim_token)}

    settings = Settings.build(
        database_url=url,
        data_dir=tmp_path,
        pool_timeout=1.0,
        connect_timeout=2,
        retry_attempts=3,
        retry_backoff=0.1,
    )
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with Ledger(settings, migrate=False) as ledger:
        ledger.tenants.create(tenant)
        tasks = ledger.tenant(tenant).tasks
        ids = tasks.enqueue_many(
            "restart",
            [NewTask(input={"i": i}, max_attempts=1000, retry_delay=0.05) for i in range(TASKS)],
        )
        workers: list[Worker] = [
            tasks.worker("restart", handle, concurrency=8, lease=10.0, poll_interval=0.2)
            for _ in range(WORKERS)
        ]
        crashes: list[BaseException] = []

        def run(worker: Worker) -> None:
            try:
                worker.run()
            except BaseException as exc:  # a crash is the failure under test
                crashes.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        restarted = False
        try:
            deadline = time.monotonic() + 300  # a hang guard, not a performance check
            while time.monotonic() < deadline:
                done = _completed(url, tenant)
                if done == TASKS:
                    break
                if not restarted and done >= TASKS // 5:
                    own_server.stop(mode="immediate")  # a crash: no shutdown checkpoint
                    time.sleep(1.0)  # workers meet a dead server for a while
                    own_server.start()
                    restarted = True
                time.sleep(0.05)
        finally:
            for worker in workers:
                worker.stop()
            for thread in threads:
                thread.join(120)
        assert restarted
        assert not crashes, crashes
        assert not any(thread.is_alive() for thread in threads)
        done_tasks = [tasks.get(task_id) for task_id in ids]
    assert all(t.status == "completed" for t in done_tasks)
    with psycopg.connect(url) as conn:
        effects: dict[int, int] = dict(conn.execute("SELECT task_id, runs FROM effects").fetchall())
    assert sorted(effects) == sorted(ids)  # every task's handler ran
    twice = {task_id: runs for task_id, runs in effects.items() if runs > 1}
    by_id = {t.id: t for t in done_tasks}
    for task_id in twice:
        # A handler runs again only for work rescued after a lost lease or a failed try
        # (its side effect may have been recorded when the server went away).
        assert by_id[task_id].rescues >= 1 or by_id[task_id].attempts > 1
    completed = sum(w.stats.completed for w in workers)
    refused = sum(w.stats.refused for w in workers)
    print(f"ran twice={len(twice)} completed={completed} refused={refused}")
