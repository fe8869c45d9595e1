# Generated from src/agentledger/db/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""What every module's façade holds: the runner its operations go through."""

from __future__ import annotations

from agentledger.db.database_sync import Runner


class Facade:
    """A module's operations in one bound scope (a tenant, a transaction): each method,
    written out or made by ``forward_sync``, runs them through ``_run``."""

    def __init__(self, run: Runner) -> None:
        self._run = run
