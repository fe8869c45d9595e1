"""A worker's upkeep on both faces: its heartbeat keeps the lease of a handler that runs
longer than the lease, so no other claimer takes the task, and ``retention`` moves tasks
finished long enough ago out of the hot table (to the archive, where ``get`` still finds
them)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from agentledger import Ledger, Task
from tests.faces import AsyncFace

LEASE = 1.5  # seconds; the worker beats every third of it
RUNS_FOR = 4.0  # the handler: well past the lease


def _slow_handler(ledger: Ledger, started: threading.Event) -> Any:
    """A handler that runs RUNS_FOR seconds without blocking its face's loop."""
    if isinstance(ledger, AsyncFace):

        async def handle_async(task: Task) -> dict[str, Any]:
            started.set()
            await asyncio.sleep(RUNS_FOR)
            return {"done": task.input["n"]}

        return handle_async

    def handle(task: Task) -> dict[str, Any]:
        started.set()
        time.sleep(RUNS_FOR)
        return {"done": task.input["n"]}

    return handle


@pytest.mark.slow
def test_a_handler_outliving_its_lease_keeps_its_task(
    ledger: Ledger, sync_ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    task = tasks.enqueue("long", {"n": 7})
    rival = sync_ledger.tenant(tenant_id).tasks  # another worker's claims, on its own thread
    stolen: list[Task] = []
    started, running = threading.Event(), threading.Event()

    def claim_meanwhile() -> None:
        started.wait(30)  # from the moment the worker holds the task
        while running.is_set():
            stolen.extend(rival.claim("long", lease=60))
            time.sleep(0.1)

    handler = _slow_handler(ledger, started)
    worker = tasks.worker("long", handler, lease=LEASE, poll_interval=0.05)
    running.set()
    claimer = threading.Thread(target=claim_meanwhile)
    claimer.start()
    try:
        stats = worker.run(until_empty=True)
    finally:
        running.clear()
        claimer.join()
    assert stolen == []
    done = tasks.get(task.id)
    assert (done.status, done.attempts, done.output) == ("completed", 1, {"done": 7})
    assert stats.completed == 1


def test_retention_moves_tasks_finished_long_enough_ago_out(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    old = tasks.enqueue("kept", {"n": 1})
    cancelled = tasks.enqueue("kept", {"n": 2})
    tasks.cancel(cancelled.id)
    tasks.worker("kept", _quick_handler(ledger), poll_interval=0.05).run(until_empty=True)
    assert tasks.get(old.id).status == "completed"
    time.sleep(0.5)
    new = tasks.enqueue("kept", {"n": 3})
    waiting = tasks.enqueue("other", {"n": 4})
    worker = tasks.worker("kept", _quick_handler(ledger), poll_interval=0.05, retention=0.3)
    assert worker.run(until_empty=True).completed == 1
    assert [t.id for t in tasks.list(queue="kept", limit=10)] == [new.id]  # the hot table
    assert tasks.get(old.id).status == "completed"  # archived, still readable by id
    assert tasks.get(cancelled.id).status == "cancelled"
    assert tasks.get(waiting.id).status == "pending"  # never finished: kept


def _quick_handler(ledger: Ledger) -> Any:
    if isinstance(ledger, AsyncFace):

        async def handle_async(task: Task) -> dict[str, Any]:
            return {"n": task.input["n"]}

        return handle_async
    return lambda task: {"n": task.input["n"]}
