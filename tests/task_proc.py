"""A worker process for the kill tests: ``python -m tests.task_proc URL DATA_DIR TENANT QUEUE``.

Each handler call records its side effect (task id, claim token, pid) in ``effects`` over its
own connection, then returns the token as the task's output.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import threading
import time
from typing import Any

import psycopg

from agentledger import Ledger, Settings, Task

_local = threading.local()


def _effect(url: str, task: Task) -> dict[str, Any]:
    """Record the task's side effect in ``effects`` (over this thread's own connection)."""
    if not hasattr(_local, "conn"):
        _local.conn = psycopg.connect(url, autocommit=True)
    time.sleep(random.random() * 0.01)
    _local.conn.execute(
        "INSERT INTO effects (task_id, token, pid) VALUES (%s, %s, %s)",
        (task.id, task.claim_token, os.getpid()),
    )
    return {"token": str(task.claim_token), "pid": os.getpid()}


def main() -> None:
    url, data_dir, tenant, queue = sys.argv[1:5]

    def handle(task: Task) -> dict[str, Any]:
        return _effect(url, task)

    settings = Settings.build(database_url=url, data_dir=data_dir, pool_max_size=4)
    with Ledger(settings, migrate=False) as ledger:
        worker = ledger.tenant(tenant).tasks.worker(
            queue, handle, concurrency=4, lease=1.0, poll_interval=0.2, grace=5
        )
        # Graceful from now on (run() installs the same), then tell the test we are ready.
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        print("ready", flush=True)
        worker.run()


if __name__ == "__main__":
    main()


def echo(task: Task) -> dict[str, Any]:
    """A handler for the ``agentledger worker`` command test."""
    return {"echo": task.input}


async def echo_async(task: Task) -> dict[str, Any]:
    """The same as a coroutine function, which the command runs on an ``AsyncLedger``."""
    return {"echo": task.input}


def linger(task: Task) -> dict[str, Any]:
    """A handler that takes a second: long enough to be interrupted while it runs."""
    time.sleep(1.0)
    return {"lingered": True}


async def linger_async(task: Task) -> dict[str, Any]:
    """The same as a coroutine function."""
    await asyncio.sleep(1.0)
    return {"lingered": True}


def record(task: Task) -> dict[str, Any]:
    """An ``agentledger worker`` handler recording its effect in the ``effects`` table of
    the worker's own database (DATABASE_URL)."""
    return _effect(os.environ["DATABASE_URL"], task)
