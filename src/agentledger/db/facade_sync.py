# Generated from src/agentledger/db/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""What every module's façade holds: the runner its operations go through."""

from __future__ import annotations

from collections.abc import Callable

from agentledger.db.database_sync import Runner
from agentledger.db.statements import Op


class Facade:
    """A module's operations in one bound scope (a tenant, a transaction): each method,
    written out or made by ``forward_sync``, runs them through ``_run``."""

    def __init__(self, run: Runner) -> None:
        self._run = run


def drain_sync(run: Runner, batch: Callable[[], Op[int]], size: int) -> tuple[int, int]:
    """Run ``batch()``'s operation, each its own transaction, until one does fewer than
    ``size`` rows: the rows in all, and the calls. The bulk deletions and re-indexes work
    this way, so that none holds many locks for long."""
    total = calls = 0
    while True:
        count = run(batch())
        total += count
        calls += 1
        if count < size:
            return total, calls
