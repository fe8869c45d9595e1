"""What every module's façade holds: the runner its operations go through."""

from __future__ import annotations

from collections.abc import Callable

from agentledger.db.database_async import AsyncRunner
from agentledger.db.statements import Op


class AsyncFacade:
    """A module's operations in one bound scope (a tenant, a transaction): each method,
    written out or made by ``forward_async``, runs them through ``_run``."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run


async def drain_async(run: AsyncRunner, batch: Callable[[], Op[int]], size: int) -> tuple[int, int]:
    """Run ``batch()``'s operation, each its own transaction, until one does fewer than
    ``size`` rows: the rows in all, and the calls. The bulk deletions and re-indexes work
    this way, so that none holds many locks for long."""
    total = calls = 0
    while True:
        count = await run(batch())
        total += count
        calls += 1
        if count < size:
            return total, calls
