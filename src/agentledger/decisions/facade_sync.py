# Generated from src/agentledger/decisions/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's decisions and feedback: the async façade."""

from __future__ import annotations

from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync
from agentledger.decisions import ops


class Decisions(Facade):
    """Record decisions (never deleted), take feedback once, report acceptance."""

    record = forward_sync(ops.record, new_id="id")
    record_feedback = forward_sync(ops.record_feedback)
    get = forward_sync(ops.get)
    acceptance_stats = forward_sync(ops.acceptance_stats)
    list = forward_sync(ops.list_)
