"""LangGraph checkpointers on agentledger's checkpoints: ``AgentLedgerSaver`` over a
``Ledger`` tenant, ``AsyncAgentLedgerSaver`` over an ``AsyncLedger`` tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from agentledger.integrations.langgraph import codec
from agentledger.integrations.langgraph.bridge import (
    LoopBridge,
    in_thread,
    iter_in_thread,
    iter_on_loop,
    on_loop,
)
from agentledger.integrations.langgraph.saver_async import AsyncSaverCore
from agentledger.integrations.langgraph.saver_sync import SaverCore
from agentledger.ledger_async import AsyncTenantScope
from agentledger.ledger_sync import TenantScope


class AgentLedgerSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer storing one tenant's threads in agentledger's database
    (``ledger.tenant("acme")``): checkpoints, the channel values they read and pending
    writes, serialized by ``serde`` (LangGraph's ``JsonPlusSerializer`` by default).

    Thread ids are the tenant's own: another tenant's saver never sees them. Every method
    of LangGraph's interface is here, deleting by run and copying and pruning threads
    included; the async ones run the sync ones in a worker thread.
    """

    def __init__(self, scope: TenantScope, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._core = SaverCore(scope.checkpoints)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._core.get_tuple(self.serde, config)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._core.put(self.serde, config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._core.put_writes(self.serde, config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self._core.delete_thread(thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._core.delete_for_runs(run_ids)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._core.copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._core.prune(thread_ids, strategy)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self._core.list(self.serde, config, filter=filter, before=before, limit=limit)

    def get_next_version(self, current: str | None, channel: None) -> str:
        return codec.next_version(current)

    aget_tuple = in_thread(get_tuple)
    aput = in_thread(put)
    aput_writes = in_thread(put_writes)
    adelete_thread = in_thread(delete_thread)
    adelete_for_runs = in_thread(delete_for_runs)
    acopy_thread = in_thread(copy_thread)
    aprune = in_thread(prune)
    alist = iter_in_thread(list)


class AsyncAgentLedgerSaver(BaseCheckpointSaver[str]):
    """``AgentLedgerSaver`` over an ``AsyncLedger`` tenant. Its sync methods run on the event
    loop the saver runs on, from other threads only (as LangGraph's ``AsyncPostgresSaver``)."""

    def __init__(self, scope: AsyncTenantScope, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._core = AsyncSaverCore(scope.checkpoints)
        self._bridge = LoopBridge(type(self).__name__)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self._bridge.enter()
        return await self._core.get_tuple(self.serde, config)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._bridge.enter()
        return await self._core.put(self.serde, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._bridge.enter()
        await self._core.put_writes(self.serde, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self._bridge.enter()
        await self._core.delete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._bridge.enter()
        await self._core.delete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._bridge.enter()
        await self._core.copy_thread(source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._bridge.enter()
        await self._core.prune(thread_ids, strategy)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        self._bridge.enter()
        async for item in self._core.list(
            self.serde, config, filter=filter, before=before, limit=limit
        ):
            yield item

    def get_next_version(self, current: str | None, channel: None) -> str:
        return codec.next_version(current)

    get_tuple = on_loop(aget_tuple)
    put = on_loop(aput)
    put_writes = on_loop(aput_writes)
    delete_thread = on_loop(adelete_thread)
    delete_for_runs = on_loop(adelete_for_runs)
    copy_thread = on_loop(acopy_thread)
    prune = on_loop(aprune)
    list = iter_on_loop(alist)
