"""The bound tenant's run log: the async façade."""

from __future__ import annotations

from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async
from agentledger.runs import ops


class AsyncRuns(AsyncFacade):
    """Log each trigger a pipeline handles: start it, finish it, read and summarise runs."""

    start = forward_async(ops.start, new_id="id")
    finish = forward_async(ops.finish)
    get = forward_async(ops.get)
    stats = forward_async(ops.stats)
    list = forward_async(ops.list_)
