"""Deferred access tracking: reads made with ``touch=True`` counted in memory and written
in batches, one UPDATE per tenant per flush.

Recording a read in the read's own transaction turns every read into a write (a row
version, a WAL flush at commit). Access statistics are advisory (retention and ranking
read them), so the ledger keeps them here and writes them ``access_flush_interval`` seconds
after the first read counted since the last write (memory/flushing.py: an asyncio task of
an ``AsyncLedger``, run while its event loop runs; a timer thread of a ``Ledger``), when it
closes, or on ``flush_access()``. What a crashed process had not flushed is lost; a record
returned by a read shows the values stored before it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID


class AccessLog:
    """Per tenant and entity: how many reads since the last flush, and when the last one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, dict[UUID, tuple[int, datetime]]] = {}

    def record(self, tenant: str, ids: Iterable[UUID]) -> bool:
        """Count a read of each entity; whether they are the first reads waiting."""
        ids = list(ids)
        if not ids:
            return False
        now = datetime.now(UTC)
        with self._lock:
            first = not self._pending
            reads = self._pending.setdefault(tenant, {})
            for id in ids:
                count, _ = reads.get(id, (0, now))
                reads[id] = (count + 1, now)
            return first

    def take(self) -> dict[str, dict[UUID, tuple[int, datetime]]]:
        """Everything waiting, per tenant; the log is empty afterwards."""
        with self._lock:
            taken, self._pending = self._pending, {}
            return taken
