# Generated from src/agentledger/expiry/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's expiry of memory entities: the async façade."""

from __future__ import annotations

from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync
from agentledger.expiry import ops


class Expiry(Facade):
    """Times to live of memory entities (LangGraph's store TTL): set them, read entities
    while their TTL holds, refresh them on a read, and sweep out the run-out ones."""

    set_ttls = forward_sync(ops.set_ttls)
    get_by_key = forward_sync(ops.get_by_key)
    list = forward_sync(ops.list_)
    search_vector = forward_sync(ops.search_vector)
    sources = forward_sync(ops.sources)
    refresh = forward_sync(ops.refresh)

    def sweep(self, batch_size: int = 1000) -> int:
        """Delete every entity whose TTL has run out, ``batch_size`` at a time (a transaction
        each, so a sweep never holds many locks); how many were deleted."""
        deleted = 0
        while True:
            gone, seen = self._run(ops.sweep_batch(batch_size))
            deleted += gone
            if seen < batch_size:
                return deleted
