# Generated from src/agentledger/checkpoints/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's checkpoints of agent graphs: the async façade."""

from __future__ import annotations

from agentledger.checkpoints import ops
from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync


class Checkpoints(Facade):
    """Checkpoints of agent graphs per thread and namespace, the channel values they read
    and the pending writes of their tasks; serialized data stays opaque (type tag, bytes).
    ``agentledger.integrations.langgraph`` puts LangGraph's checkpointer contract on top."""

    put = forward_sync(ops.put)
    put_writes = forward_sync(ops.put_writes)
    get = forward_sync(ops.get)
    delete_threads = forward_sync(ops.delete_threads)
    delete_runs = forward_sync(ops.delete_runs)
    prune = forward_sync(ops.prune)
    copy_thread = forward_sync(ops.copy_thread)
    list = forward_sync(ops.list_)
