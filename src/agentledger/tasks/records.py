"""Task records and the task lifecycle returned to callers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.lifecycle import Lifecycle

# A failure moves a running task to "pending" again (retry, after a backoff) or to "dead"
# once its attempts are spent (bury). A claim also rescues a running task whose lease
# expired: it runs again (claim), or goes dead when its attempts are spent (expire). A dead
# task (a dead letter) runs again from the start (redrive) or is set aside (discard).
TASK_LIFECYCLE = Lifecycle(
    "task",
    {
        "pending": {"claim": "running", "cancel": "cancelled"},
        "running": {
            "claim": "running",
            "expire": "dead",
            "complete": "completed",
            "retry": "pending",
            "release": "pending",
            "bury": "dead",
        },
        "completed": {},
        "dead": {"redrive": "pending", "discard": "cancelled"},
        "cancelled": {},
    },
)

# LISTEN/NOTIFY channel told about new ready work; the payload is the queue name.
TASKS_CHANNEL = "agentledger_tasks"


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    tenant_id: str
    id: int
    queue: str
    task_type: str
    agent_name: str | None
    priority: int
    input: dict[str, Any]
    output: dict[str, Any] | None
    status: str
    attempts: int
    max_attempts: int
    retry_delay: float
    run_after: datetime
    lease_expires_at: datetime | None
    claimed_by: str | None
    claim_token: UUID | None
    rescues: int
    error: str | None
    session_id: str | None
    entity_id: str | None
    dedup_key: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class NewTask:
    """One task of a batch for ``enqueue_many`` (``queue`` defaults to the batch's)."""

    input: Mapping[str, Any] | None = None
    task_type: str = ""
    priority: int = 0
    queue: str | None = None
    agent_name: str | None = None
    max_attempts: int = 5
    retry_delay: float = 1.0
    run_after: datetime | None = None
    session_id: str | None = None
    entity_id: str | None = None
    dedup_key: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """How a claimed task ended, for ``settle``: complete, fail or release.

    ``token`` is the claim token the task was claimed with: an outcome whose lease was lost
    (the task was re-claimed by another worker) is refused.
    """

    id: int
    token: UUID
    action: str
    output: dict[str, Any] | None = None
    error: str | None = None
    retry: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class Settled:
    """The result of ``settle``: ids applied (with their new status) and ids refused."""

    applied: dict[int, str]
    refused: list[int]


@dataclass(frozen=True, kw_only=True, slots=True)
class Redriven:
    """The result of ``redrive_queue``: the ids of the dead tasks sent back to pending, and
    the dead tasks left dead because another unfinished task holds their dedup key (``held``:
    each one's id, and the id of the task holding the key). Iterating it, or ``len()``, reads
    ``ids``, as with the list of ids it once was."""

    ids: list[int]
    held: dict[int, int]

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, kw_only=True, slots=True)
class Cycle:
    """The result of ``settle_and_claim``: the outcomes settled, then the tasks claimed."""

    settled: Settled
    claimed: list[Task]


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueStats:
    queue: str
    pending: int
    ready: int
    running: int
    completed: int
    dead: int
    cancelled: int
    oldest_ready_age: float | None  # seconds the oldest ready task has waited
    completed_last_minute: int
    rescued: int


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueDepth:
    """What waits in one queue, read from indexes (``depth``): unfinished tasks by state,
    dead letters, and completions of the last minute.

    ``ready`` tasks may be claimed now; ``scheduled`` ones wait for their ``run_after``
    (a retry's backoff among them); ``retrying`` counts the pending tasks that have failed
    before (part of ready and scheduled). ``running`` tasks hold a live lease; ``expired``
    ones lost theirs and are taken by the next claim."""

    queue: str
    ready: int
    scheduled: int
    retrying: int
    running: int
    expired: int
    dead: int
    oldest_ready_age: float | None  # seconds the oldest ready task has waited
    completed_last_minute: int
