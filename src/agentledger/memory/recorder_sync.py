# Generated from src/agentledger/memory/recorder_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Writes what the access log counted (memory/access.py): each tenant's touched reads in one
statement, through the ledger's database."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

from agentledger.db.binding import Binding
from agentledger.db.database_sync import Database
from agentledger.errors import LedgerError
from agentledger.memory import ops
from agentledger.memory.access import AccessLog

log = logging.getLogger("agentledger")


class AccessRecorder:
    """One per ledger: every tenant's touched reads, written together once due."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.log = AccessLog(interval)

    def record(self, tenant: str, ids: Iterable[UUID]) -> None:
        self.log.record(tenant, ids)
        if self.log.due():
            self.flush()

    def flush(self) -> int:
        """Write every count waiting; how many entities were updated. Counts a tenant cannot
        write now (suspended, the database down) are dropped with a warning: access
        statistics are advisory, and a read never fails for them."""
        updated = 0
        for tenant, reads in self.log.take().items():
            try:
                updated += self.db.run(ops.record_access(reads), Binding.to_tenant(tenant))
            except LedgerError as exc:
                log.warning(
                    "access counts of %d entities of tenant %s not written: %s",
                    len(reads),
                    tenant,
                    exc,
                )
        return updated
