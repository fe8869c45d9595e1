"""The bound tenant's checkpoints of agent graphs: the async façade."""

from __future__ import annotations

from agentledger.checkpoints import ops
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async


class AsyncCheckpoints(AsyncFacade):
    """Checkpoints of agent graphs per thread and namespace, the channel values they read
    and the pending writes of their tasks; serialized data stays opaque (type tag, bytes).
    ``agentledger.integrations.langgraph`` puts LangGraph's checkpointer contract on top."""

    put = forward_async(ops.put)
    put_writes = forward_async(ops.put_writes)
    get = forward_async(ops.get)
    delete_threads = forward_async(ops.delete_threads)
    delete_runs = forward_async(ops.delete_runs)
    prune = forward_async(ops.prune)
    copy_thread = forward_async(ops.copy_thread)
    list = forward_async(ops.list_)
