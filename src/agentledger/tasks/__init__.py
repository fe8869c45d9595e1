"""The task queue: batch SKIP LOCKED claims, leases and rescue, retries, dead letters."""

from agentledger.tasks.records import (
    TASK_LIFECYCLE as TASK_LIFECYCLE,
    TASKS_CHANNEL as TASKS_CHANNEL,
    NewTask as NewTask,
    Outcome as Outcome,
    QueueDepth as QueueDepth,
    QueueStats as QueueStats,
    Redriven as Redriven,
    Settled as Settled,
    Task as Task,
)
