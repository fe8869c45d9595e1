# Generated from src/agentledger/integrations/langgraph/saver_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""LangGraph checkpointer operations run on the bound tenant's checkpoints
(``saver_sync.py`` is generated from ``saver_sync.py``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from agentledger.checkpoints.facade_sync import Checkpoints
from agentledger.integrations.langgraph import codec

# Checkpoints read per statement while listing.
PAGE = 100


class SaverCore:
    """Each checkpointer method as one or a few calls of the checkpoints module; the
    serializer is the saver's, passed on each call."""

    def __init__(self, checkpoints: Checkpoints) -> None:
        self._checkpoints = checkpoints

    def get_tuple(
        self, serde: SerializerProtocol, config: RunnableConfig
    ) -> CheckpointTuple | None:
        thread_id, checkpoint_ns = codec.thread(config)
        stored = self._checkpoints.get(thread_id, checkpoint_ns, get_checkpoint_id(config))
        return None if stored is None else codec.checkpoint_tuple(serde, stored)

    def put(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        arguments = codec.put_arguments(serde, config, checkpoint, metadata, new_versions)
        self._checkpoints.put(**arguments)
        return codec.stored_config(
            arguments["thread_id"], arguments["checkpoint_ns"], checkpoint["id"]
        )

    def put_writes(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        thread_id, checkpoint_ns = codec.thread(config)
        self._checkpoints.put_writes(
            thread_id,
            checkpoint_ns,
            str(config["configurable"]["checkpoint_id"]),
            task_id,
            codec.writes(serde, writes),
            task_path=task_path,
            replace=codec.replaces(writes),
        )

    def delete_thread(self, thread_id: str) -> None:
        self._checkpoints.delete_threads([str(thread_id)])

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._checkpoints.delete_runs(codec.ids("run_ids", run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._checkpoints.copy_thread(str(source_thread_id), str(target_thread_id))

    def prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        self._checkpoints.prune(codec.ids("thread_ids", thread_ids), strategy=strategy)

    def list(
        self,
        serde: SerializerProtocol,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Iterator[CheckpointTuple]:
        """Newest first, a page per statement, until ``limit`` (None: all)."""
        where: dict[str, Any] = {}
        if config is not None:
            configurable = config.get("configurable") or {}
            where["thread_id"] = str(configurable["thread_id"])
            ns = configurable.get("checkpoint_ns")
            where["checkpoint_ns"] = None if ns is None else str(ns)
            where["checkpoint_id"] = get_checkpoint_id(config)
        left = limit
        after = None
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            page = self._checkpoints.list(
                **where,
                metadata=filter or None,
                before=None if before is None else get_checkpoint_id(before),
                after=after,
                limit=size,
            )
            for stored in page:
                yield codec.checkpoint_tuple(serde, stored)
            if len(page) < size:
                return
            after = page[-1]
            left = None if left is None else left - len(page)
