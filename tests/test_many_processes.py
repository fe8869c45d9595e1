"""Four API processes and four task-worker processes on one database.

Clients enqueue tasks (each sent twice, through two processes, with one dedup key) and
append events (some resent, with one client event id) through different API processes; SSE
consumers on other API processes see every event once, in log order; the workers, woken
through LISTEN/NOTIFY, complete every task once. Nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import httpx
import psycopg
import pytest
from chaos.common import free_port
from chaos.http import ApiProcess, tenant_with_keys

from agentledger import Settings
from agentledger.events import EVENTS_CHANNEL
from agentledger.tasks.records import TASKS_CHANNEL
from tests.procs import spawn_cli

API_PROCESSES = 4
WORKERS = 4
TASKS = 240
EVENTS = 160
QUEUE = "many"
SENTINEL = "AllWritten"
# Small pools: eight processes share the test server's connections with the other tests.
POOL = {"AGENTLEDGER_POOL_MAX_SIZE": "4"}
# Generous bounds on waits that normally take well under a second (not timing assertions).
WAIT = 60.0


class SseConsumer(threading.Thread):
    """Reads the events SSE stream of one API process until the sentinel event."""

    def __init__(self, base: str, key: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.key = key
        self.seen: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                httpx.Client(
                    base_url=self.base,
                    headers={"Authorization": f"Bearer {self.key}"},
                    timeout=WAIT,
                ) as client,
                client.stream("GET", "/v1/events/stream") as response,
            ):
                response.raise_for_status()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.connected.set()  # the server follows the log (and LISTENs)
                    elif line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    elif "data" in fields:
                        event = json.loads(fields["data"])
                        assert int(fields["id"]) == event["position"]
                        self.seen.append(event)
                        fields = {}
                        if event["type"] == SENTINEL:
                            return
        except BaseException as exc:
            self.error = exc


def _listeners(database_url: str, channel: str) -> int:
    """Connections to this database whose last statement was LISTEN on ``channel``."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query ILIKE %s",
            (f"LISTEN%{channel}%",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _wait_for(what: str, done: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _end(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if the process outlives a grace period."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_four_api_and_four_worker_processes_lose_and_duplicate_nothing(
    settings: Settings, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE effects (task_id bigint, token uuid, pid int)")
    apis = [ApiProcess(settings, free_port(), POOL) for _ in range(API_PROCESSES)]
    workers: list[subprocess.Popen[str]] = []
    try:
        # The workers start (on the first API process up's new tenant) while the rest start.
        with ThreadPoolExecutor(API_PROCESSES) as pool:
            starting = {pool.submit(api.start): api for api in apis}
            first = next(as_completed(starting))
            first.result()
            keys = tenant_with_keys(starting[first].base)
            tenant = keys["id"]
            workers.extend(
                spawn_cli(
                    settings,
                    *("worker", QUEUE, "tests.task_proc:record", "--tenant", tenant),
                    *("--concurrency", "4", "--lease", "30"),
                    **POOL,
                )
                for _ in range(WORKERS)
            )
            for future in starting:
                future.result()
        # Consumers on processes 2 and 3; events are written through processes 0 and 1.
        consumers = [SseConsumer(apis[i].base, keys["reader"]) for i in (2, 3)]
        for consumer in consumers:
            consumer.start()
        for consumer in consumers:
            assert consumer.connected.wait(WAIT), consumer.error
        # Every worker and every SSE feed waits on its LISTEN connection before work starts.
        _wait_for("the workers' LISTEN", lambda: _listeners(database_url, TASKS_CHANNEL) >= WORKERS)
        assert _listeners(database_url, EVENTS_CHANNEL) >= len(consumers)

        def client(i: int) -> httpx.Client:
            return httpx.Client(
                base_url=apis[i].base,
                headers={"Authorization": f"Bearer {keys['writer']}"},
                timeout=WAIT,
            )

        def enqueue(part: int) -> list[tuple[str, int, int]]:
            """Each task sent twice with its dedup key, through two processes."""
            clients = [client(i) for i in range(API_PROCESSES)]
            sent: list[tuple[str, int, int]] = []
            try:
                for k in range(part, TASKS, 4):
                    body = {"input": {"k": k}, "dedup_key": f"k-{k}"}
                    ids = []
                    for c in (clients[k % 4], clients[(k + 1) % 4]):
                        made = c.post(f"/v1/queues/{QUEUE}/tasks", json=body)
                        assert made.status_code == 201, made.text
                        ids.append(made.json()["id"])
                    if ids[0] != ids[1]:
                        # A new task for the key only once the first one was finished.
                        first = clients[k % 4].get(f"/v1/tasks/{ids[0]}").json()
                        assert first["status"] == "completed", first
                    sent.append((f"k-{k}", ids[0], ids[1]))
            finally:
                for c in clients:
                    c.close()
            return sent

        def append(part: int) -> list[dict[str, Any]]:
            """Events through processes 0 and 1; every third one resent through the other."""
            clients = [client(0), client(1)]
            written: list[dict[str, Any]] = []
            try:
                for n in range(part, EVENTS, 2):
                    body = {
                        "stream": f"s-{n % 7}",
                        "type": "Step",
                        "payload": {"n": n},
                        "event_id": str(uuid.uuid4()),
                    }
                    first = clients[n % 2].post("/v1/events", json=body)
                    assert first.status_code == 201, first.text
                    written.append(first.json())
                    if n % 3 == 0:
                        again = clients[(n + 1) % 2].post("/v1/events", json=body)
                        assert again.status_code == 201, again.text
                        assert again.json()["already_appended"] is True
                        assert again.json()["position"] == first.json()["position"]
            finally:
                for c in clients:
                    c.close()
            return written

        with ThreadPoolExecutor(6) as pool:
            enqueued = [pool.submit(enqueue, part) for part in range(4)]
            appended = [pool.submit(append, part) for part in range(2)]
            sent = [row for f in enqueued for row in f.result()]
            written = [event for f in appended for event in f.result()]

        # An event written through process 0 reaches the consumers on processes 2 and 3.
        with client(0) as c:
            last = c.post("/v1/events", json={"stream": "end", "type": SENTINEL})
            assert last.status_code == 201, last.text
        for consumer in consumers:
            consumer.join(WAIT)
            assert not consumer.is_alive(), "the sentinel event did not arrive"
            assert consumer.error is None, consumer.error

        task_ids = {i for _, first_id, second_id in sent for i in (first_id, second_id)}

        def settled() -> bool:
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM agentledger.tasks"
                    " WHERE tenant_id = %s AND queue = %s AND status = 'completed'",
                    (tenant, QUEUE),
                ).fetchone()
            return row is not None and row[0] >= len(task_ids)

        _wait_for("every task to complete", settled)
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            assert proc.wait(WAIT) == 0
        for api in apis:
            api.stop()
            # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
            assert api.proc is not None and api.proc.returncode in (0, -signal.SIGTERM)
    finally:
        for proc in workers:
            _end(proc)
        for api in apis:
            api.stop()

    with psycopg.connect(database_url) as conn:
        tasks = conn.execute(
            "SELECT id, dedup_key, status, output"
            " FROM agentledger.tasks WHERE tenant_id = %s AND queue = %s"
            " UNION ALL SELECT id, dedup_key, status, output"
            " FROM agentledger.task_archive WHERE tenant_id = %s AND queue = %s",
            (tenant, QUEUE, tenant, QUEUE),
        ).fetchall()
        effects = conn.execute("SELECT task_id, token::text, pid FROM effects").fetchall()
        log = [
            str(event_id)
            for (event_id,) in conn.execute(
                "SELECT event_id FROM agentledger.events WHERE tenant_id = %s"
                " ORDER BY commit_order, position",
                (tenant,),
            )
        ]

    # Tasks: exactly the ones the API returned, each completed by one handler run.
    by_id = {row[0]: row for row in tasks}
    assert len(by_id) == len(tasks) and set(by_id) == task_ids
    assert {row[2] for row in tasks} == {"completed"}
    runs = Counter(task_id for task_id, _, _ in effects)
    assert set(runs) == task_ids and set(runs.values()) == {1}
    tokens = {task_id: (token, pid) for task_id, token, pid in effects}
    for task_id, _, _, output in tasks:
        assert output == {"token": tokens[task_id][0], "pid": tokens[task_id][1]}
    pids = {pid for _, _, pid in effects}
    assert pids <= {proc.pid for proc in workers}
    assert len(pids) > 1, "one worker process did all the work"
    # Dedup: a resent task is the same task (or a new one after the first was finished).
    for key, first_id, second_id in sent:
        assert by_id[first_id][1] == by_id[second_id][1] == key
    deduplicated = sum(first_id == second_id for _, first_id, second_id in sent)

    # Events: each written once; every consumer saw the whole log, once each, in its
    # commit-safe order (commit_order, then position: positions are taken in one order and
    # committed in another, docs/architecture.md#the-event-feed).
    ids = [str(e["event_id"]) for e in written]
    assert len(set(ids)) == EVENTS and set(ids) <= set(log)
    for consumer in consumers:
        assert [e["event_id"] for e in consumer.seen] == log
    print(
        f"tasks={len(task_ids)} deduplicated={deduplicated}/{TASKS} "
        f"per-worker={sorted(Counter(pid for _, _, pid in effects).values())}"
    )
