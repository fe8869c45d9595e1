"""What every module's façade holds: the runner its operations go through."""

from __future__ import annotations

from agentledger.db.database_async import AsyncRunner


class AsyncFacade:
    """A module's operations in one bound scope (a tenant, a transaction): each method,
    written out or made by ``forward_async``, runs them through ``_run``."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run
