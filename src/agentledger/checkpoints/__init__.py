"""Checkpoints of agent graphs: per-thread state snapshots, channel values and pending writes."""

from agentledger.checkpoints.records import EMPTY, ChannelBlob, StoredCheckpoint, TaskWrite

__all__ = ["EMPTY", "ChannelBlob", "StoredCheckpoint", "TaskWrite"]
