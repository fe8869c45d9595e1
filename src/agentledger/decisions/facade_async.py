"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

from agentledger.db.database_async import AsyncRunner
from agentledger.db.forward import forward_async
from agentledger.decisions import ops


class AsyncDecisions:
    """Record decisions (never deleted), take feedback once, report acceptance."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run

    record = forward_async(ops.record, new_id="id")
    record_feedback = forward_async(ops.record_feedback)
    get = forward_async(ops.get)
    acceptance_stats = forward_async(ops.acceptance_stats)
    list = forward_async(ops.list_)
