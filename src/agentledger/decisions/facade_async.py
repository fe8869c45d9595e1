"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async
from agentledger.decisions import ops


class AsyncDecisions(AsyncFacade):
    """Record decisions (never deleted), take feedback once, report acceptance."""

    record = forward_async(ops.record, new_id="id")
    record_feedback = forward_async(ops.record_feedback)
    get = forward_async(ops.get)
    acceptance_stats = forward_async(ops.acceptance_stats)
    list = forward_async(ops.list_)
