"""Checkpoints of agent graphs: per-thread state snapshots, channel values and pending writes."""

from agentledger.checkpoints.records import (
    EMPTY as EMPTY,
    ChannelBlob as ChannelBlob,
    StoredCheckpoint as StoredCheckpoint,
    TaskWrite as TaskWrite,
)
