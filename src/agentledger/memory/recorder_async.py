"""Writes what the access log counted (memory/access.py): each tenant's touched reads in one
statement, through the ledger's database, ``interval`` seconds after the first read counted
(memory/flushing.py) or when asked."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase
from agentledger.errors import LedgerError
from agentledger.memory import ops
from agentledger.memory.access import AccessLog
from agentledger.memory.flushing import AsyncFlusher

log = logging.getLogger("agentledger")


class AsyncAccessRecorder:
    """One per ledger: every tenant's touched reads, written together once due."""

    def __init__(self, db: AsyncDatabase, interval: float) -> None:
        self.db = db
        self.log = AccessLog()
        self._flusher = AsyncFlusher(self._write, interval)

    async def record(self, tenant: str, ids: Iterable[UUID]) -> None:
        """Count the reads; the first one waiting schedules their flush."""
        if self.log.record(tenant, ids):
            self._flusher.schedule()

    async def flush(self) -> int:
        """Write every count waiting now (the ledger's close does), instead of when due; how
        many entities were updated. Counts a tenant cannot write now (suspended, the
        database down) are dropped with a warning: access statistics are advisory, and a
        read never fails for them."""
        return await self._flusher.run()

    async def _write(self) -> int:
        updated = 0
        for tenant, reads in self.log.take().items():
            try:
                updated += await self.db.run(ops.record_access(reads), Binding.to_tenant(tenant))
            except LedgerError as exc:
                log.warning(
                    "access counts of %d entities of tenant %s not written: %s",
                    len(reads),
                    tenant,
                    exc,
                )
        return updated
