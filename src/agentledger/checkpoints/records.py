"""Checkpoint records: a stored checkpoint with the channel values it reads and its pending
writes, all serialized data kept as the serializer's (type tag, bytes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The type tag of a channel emptied at a version (its blob is None).
EMPTY = "empty"


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelBlob:
    """One channel's value at one version, serialized (``blob`` None when ``type`` is
    ``"empty"``)."""

    channel: str
    version: str
    type: str
    blob: bytes | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskWrite:
    """A pending write of a task to a checkpoint: ``idx`` orders a task's writes (special
    channels such as errors take fixed negative indexes)."""

    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str
    blob: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: the serialized checkpoint without its channel values, the
    values it reads (``blobs``), its metadata, and its pending writes in the order a graph
    applies them (task path, task id, index)."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    type: str
    checkpoint: bytes
    metadata: dict[str, Any]
    blobs: list[ChannelBlob]
    writes: list[TaskWrite]
    created_at: datetime
