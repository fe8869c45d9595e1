"""The bound tenant's expiry of memory entities: the async façade."""

from __future__ import annotations

from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async
from agentledger.expiry import ops


class AsyncExpiry(AsyncFacade):
    """Times to live of memory entities (LangGraph's store TTL): set them, read entities
    while their TTL holds, refresh them on a read, and sweep out the run-out ones."""

    set_ttls = forward_async(ops.set_ttls)
    get_by_key = forward_async(ops.get_by_key)
    list = forward_async(ops.list_)
    search_vector = forward_async(ops.search_vector)
    sources = forward_async(ops.sources)
    refresh = forward_async(ops.refresh)

    async def sweep(self, batch_size: int = 1000) -> int:
        """Delete every entity whose TTL has run out, ``batch_size`` at a time (a transaction
        each, so a sweep never holds many locks); how many were deleted."""
        deleted = 0
        while True:
            gone, seen = await self._run(ops.sweep_batch(batch_size))
            deleted += gone
            if seen < batch_size:
                return deleted
