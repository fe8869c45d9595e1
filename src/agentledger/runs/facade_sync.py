# Generated from src/agentledger/runs/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's run log: the async façade."""

from __future__ import annotations

from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync
from agentledger.runs import ops


class Runs(Facade):
    """Log each trigger a pipeline handles: start it, finish it, read and summarise runs."""

    start = forward_sync(ops.start, new_id="id")
    finish = forward_sync(ops.finish)
    get = forward_sync(ops.get)
    stats = forward_sync(ops.stats)
    list = forward_sync(ops.list_)
