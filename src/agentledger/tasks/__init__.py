"""The task queue: batch SKIP LOCKED claims, leases and rescue, retries, dead letters."""

from agentledger.tasks.records import (
    TASK_LIFECYCLE,
    TASKS_CHANNEL,
    NewTask,
    Outcome,
    QueueDepth,
    QueueStats,
    Settled,
    Task,
)

__all__ = [
    "TASKS_CHANNEL",
    "TASK_LIFECYCLE",
    "NewTask",
    "Outcome",
    "QueueDepth",
    "QueueStats",
    "Settled",
    "Task",
]
