"""A worker process for the task kill scenario: ``python -m chaos.task_worker URL DATA_DIR
TENANT QUEUE``. Its handler's side effect (an event on the task's own stream) is written
in the transaction that completes the task; it prints ``ready`` once SIGTERM is graceful.
"""

from __future__ import annotations

import random
import signal
import sys
import time
from typing import Any

from agentledger import Ledger, Settings, Task
from agentledger.ledger import Transaction


def main() -> None:
    url, data_dir, tenant, queue = sys.argv[1:5]

    def handle(task: Task, tx: Transaction) -> dict[str, Any]:
        tx.events.append(f"effect-{task.id}", "Effect", {"token": str(task.claim_token)})
        time.sleep(random.random() * 0.03)
        return {"token": str(task.claim_token)}

    settings = Settings.build(database_url=url, data_dir=data_dir, pool_max_size=5)
    with Ledger(settings, migrate=False) as ledger:
        worker = ledger.tenant(tenant).tasks.worker(
            queue,
            handle,
            concurrency=4,
            lease=1.0,
            poll_interval=0.1,
            grace=5,
            transactional=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        print("ready", flush=True)
        worker.run()


if __name__ == "__main__":
    main()
