"""LangGraph checkpoints to and from the checkpoints module's records, through a saver's
serializer (I/O-free).

A checkpoint is stored serialized without its channel values; each value a put brings (the
channels of ``new_versions``) is a blob of its own under its channel and version, and a
checkpoint reads the blobs its ``channel_versions`` name. Metadata is stored as JSON, which
list filters match by containment (a tuple comes back as a list).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from agentledger import validation as v
from agentledger.checkpoints.ops import Write
from agentledger.checkpoints.records import EMPTY, ChannelBlob, StoredCheckpoint


def thread(config: RunnableConfig) -> tuple[str, str]:
    """The thread id and checkpoint namespace a config names."""
    configurable = config.get("configurable") or {}
    return str(configurable["thread_id"]), str(configurable.get("checkpoint_ns") or "")


def ids(field: str, values: object) -> list[str]:
    """Thread or run ids as text: a list of them, never one string taken for its characters
    (InvalidInput naming ``field``, as the checkpoints module says it)."""
    return [str(x) for x in v.items(field, values, what="ids")]


def stored_config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def put_arguments(
    serde: SerializerProtocol,
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
) -> dict[str, Any]:
    """The keyword arguments of ``checkpoints.put`` for one LangGraph put."""
    thread_id, checkpoint_ns = thread(config)
    values = checkpoint["channel_values"]
    kind, data = serde.dumps_typed({**checkpoint, "channel_values": {}})
    blobs = []
    for channel, version in new_versions.items():
        if channel in values:
            tag, blob = serde.dumps_typed(values[channel])
            blobs.append(ChannelBlob(channel=channel, version=str(version), type=tag, blob=blob))
        else:
            blobs.append(ChannelBlob(channel=channel, version=str(version), type=EMPTY, blob=None))
    meta = dict(get_serializable_checkpoint_metadata(config, metadata))
    run_id = meta.get("run_id")
    return {
        "thread_id": thread_id,
        "checkpoint_ns": checkpoint_ns,
        "checkpoint_id": checkpoint["id"],
        "type": kind,
        "checkpoint": data,
        "channel_versions": {ch: str(v) for ch, v in checkpoint["channel_versions"].items()},
        "metadata": meta,
        "blobs": blobs,
        "parent_id": get_checkpoint_id(config),
        "run_id": None if run_id is None else str(run_id),
    }


def writes(serde: SerializerProtocol, pending: Sequence[tuple[str, Any]]) -> list[Write]:
    """A task's writes as ``checkpoints.put_writes`` takes them: a special channel (error,
    interrupt...) at its fixed negative index, the others at their position."""
    rows: list[Write] = []
    for idx, (channel, value) in enumerate(pending):
        tag, blob = serde.dumps_typed(value)
        rows.append((WRITES_IDX_MAP.get(channel, idx), channel, tag, blob))
    return rows


def replaces(pending: Sequence[tuple[str, Any]]) -> bool:
    """Writes of special channels only replace what a task wrote there before."""
    return all(channel in WRITES_IDX_MAP for channel, _ in pending)


def checkpoint_tuple(serde: SerializerProtocol, stored: StoredCheckpoint) -> CheckpointTuple:
    checkpoint = cast(Checkpoint, serde.loads_typed((stored.type, stored.checkpoint)))
    checkpoint["channel_values"] = {
        b.channel: serde.loads_typed((b.type, b.blob))
        for b in stored.blobs
        if b.type != EMPTY and b.blob is not None
    }
    parent = stored.parent_checkpoint_id
    return CheckpointTuple(
        config=stored_config(stored.thread_id, stored.checkpoint_ns, stored.checkpoint_id),
        checkpoint=checkpoint,
        metadata=cast(CheckpointMetadata, stored.metadata),
        parent_config=None
        if parent is None
        else stored_config(stored.thread_id, stored.checkpoint_ns, parent),
        pending_writes=[
            (w.task_id, w.channel, serde.loads_typed((w.type, w.blob))) for w in stored.writes
        ],
    )


def next_version(current: str | int | float | None) -> str:
    """A channel's next version: the count zero-padded, then a random fraction, so that two
    forks of a thread writing the same channel at the same step never share a blob."""
    if current is None:
        count = 0
    elif isinstance(current, str):
        count = int(current.split(".")[0])
    else:
        count = int(current)
    return f"{count + 1:032}.{random.random():016}"
