"""A worker process for the transactional kill test:
``python -m tests.task_tx_proc URL DATA_DIR TENANT QUEUE MODE``.

Each handler appends its effect (an event on the task's own stream) and says so on stdout
("in flight ID"), then waits to be killed. MODE ``transactional`` appends in the task's
transaction; ``plain`` appends in a transaction of its own, committed at once.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from agentledger import Ledger, Settings, Task
from agentledger.ledger import Transaction


def main() -> None:
    url, data_dir, tenant, queue, mode = sys.argv[1:6]
    settings = Settings.build(database_url=url, data_dir=data_dir, pool_max_size=5)
    forever = threading.Event()
    say = threading.Lock()  # handler threads write whole lines, never interleaved
    with Ledger(settings, migrate=False) as ledger:
        scope = ledger.tenant(tenant)

        def in_flight(task: Task) -> None:
            with say:
                sys.stdout.write(f"in flight {task.id}\n")
                sys.stdout.flush()
            forever.wait()

        def in_tx(task: Task, tx: Transaction) -> None:
            tx.events.append(f"effect-{task.id}", "effect", {"attempt": task.attempts})
            in_flight(task)

        def plain(task: Task) -> None:
            scope.events.append(f"effect-{task.id}", "effect", {"attempt": task.attempts})
            in_flight(task)

        transactional = mode == "transactional"
        scope.tasks.worker(
            queue,
            in_tx if transactional else plain,
            concurrency=3,
            lease=1.0,
            poll_interval=0.2,
            transactional=transactional,
        ).run()


if __name__ == "__main__":
    main()


def echo_in_tx(task: Task, tx: Transaction) -> dict[str, Any]:
    """A transactional handler for the ``agentledger worker --transactional`` test."""
    tx.events.append(f"effect-{task.id}", "effect", {"attempt": task.attempts})
    return {"echo": task.input}
