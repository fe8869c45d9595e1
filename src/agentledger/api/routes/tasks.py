"""The task queue over HTTP, so an agent in any language can take work."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import ReaderTenant, WriterTenant
from agentledger.api.pagination import MAX_POSITION, Limit, cursor_int, page
from agentledger.api.schemas import Page
from agentledger.tasks import NewTask, Outcome, QueueDepth, QueueStats, Settled, Task

router = APIRouter(prefix="/v1", tags=["tasks"])


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: dict[str, Any] = Field(default_factory=dict, examples=[{"url": "https://..."}])
    task_type: str = Field(default="", max_length=200, examples=["summarise"])
    priority: int = Field(default=0, ge=-1000, le=1000)
    agent_name: str | None = Field(default=None, description="Address one agent.")
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_delay: float = Field(default=1.0, ge=0, le=86400)
    run_after: dt.datetime | None = None
    session_id: str | None = None
    entity_id: str | None = None
    dedup_key: str | None = Field(
        default=None,
        description="An unfinished task with this key is returned instead of a new one.",
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tasks: list[TaskIn] = Field(min_length=1, max_length=10_000)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=1, ge=1, le=1000)
    lease: float = Field(default=60.0, gt=0, le=86400)
    worker: str | None = Field(default=None, examples=["worker-7"])
    agent: str | None = None


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1)
    token: UUID = Field(description="The claim token the task was claimed with.")
    action: Literal["complete", "fail", "release"]
    output: dict[str, Any] | None = None
    error: str | None = None
    retry: bool = True


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=1000)


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claims: list[OutcomeRef] = Field(min_length=1, max_length=1000)
    lease: float = Field(default=60.0, gt=0, le=86400)


class OutcomeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Bounded here, so a bad id is named as the body names it (claims.N.id), not as the
    # library's heartbeat names its argument (tasks[N].id).
    id: int = Field(ge=1, le=MAX_POSITION)
    token: UUID


HeartbeatIn.model_rebuild()


@router.post(
    "/queues/{queue}/tasks",
    status_code=201,
    response_model=Task,
    summary="Enqueue a task",
)
async def enqueue(queue: str, body: TaskIn, tenant: WriterTenant) -> object:
    fields = body.model_dump()
    return await tenant.tasks.enqueue(queue, fields.pop("input"), **fields)


@router.post(
    "/queues/{queue}/tasks/batch",
    status_code=201,
    response_model=list[int],
    summary="Enqueue many tasks in one round trip",
)
async def enqueue_many(queue: str, body: BatchIn, tenant: WriterTenant) -> object:
    batch = [NewTask(**t.model_dump()) for t in body.tasks]
    return await tenant.tasks.enqueue_many(queue, batch)


@router.post(
    "/queues/{queue}/claim",
    response_model=list[Task],
    summary="Lease up to `limit` ready tasks (SKIP LOCKED; expired leases rescued)",
)
async def claim(queue: str, body: ClaimIn, tenant: WriterTenant) -> object:
    return await tenant.tasks.claim(
        queue, limit=body.limit, lease=body.lease, worker=body.worker, agent=body.agent
    )


@router.post(
    "/tasks/settle",
    response_model=Settled,
    summary="Complete, fail or release claimed tasks (a lost lease is listed as refused)",
)
async def settle(body: SettleIn, tenant: WriterTenant) -> object:
    outcomes = [Outcome(**o.model_dump()) for o in body.outcomes]
    return await tenant.tasks.settle(outcomes)


@router.post(
    "/tasks/heartbeat",
    response_model=list[int],
    summary="Extend leases; returns the ids still held",
)
async def heartbeat(body: HeartbeatIn, tenant: WriterTenant) -> object:
    claims = [(c.id, c.token) for c in body.claims]
    return await tenant.tasks.heartbeat(claims, lease=body.lease)


@router.get("/tasks", response_model=Page[Task], summary="Tasks by id")
async def list_tasks(
    tenant: ReaderTenant,
    queue: str | None = None,
    status: Literal["pending", "running", "completed", "dead", "cancelled"] | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    after = cursor_int(cursor, "after") or 0
    items = await tenant.tasks.list(queue=queue, status=status, after=after, limit=limit)
    return page(items, limit, lambda last: {"after": last.id})


@router.get(
    "/tasks/stats",
    response_model=list[QueueStats],
    summary="Depth by status, oldest ready age, throughput, dead count",
)
async def queue_stats(tenant: ReaderTenant, queue: str | None = None) -> object:
    return await tenant.tasks.stats(queue)


@router.get(
    "/tasks/depth",
    response_model=list[QueueDepth],
    summary="What waits per queue, read from indexes: ready, scheduled, running, dead",
)
async def queue_depth(tenant: ReaderTenant, queue: str | None = None) -> object:
    return await tenant.tasks.depth(queue)


@router.get(
    "/tasks/dead",
    response_model=Page[Task],
    summary="Dead letters, newest first",
)
async def dead_letters(
    tenant: ReaderTenant,
    queue: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    before = cursor_int(cursor, "before")
    items = await tenant.tasks.dead_letters(queue, before=before, limit=limit)
    return page(items, limit, lambda last: {"before": last.id})


@router.get("/tasks/{task_id}", response_model=Task)
async def get_task(task_id: int, tenant: ReaderTenant) -> object:
    return await tenant.tasks.get(task_id)


@router.post(
    "/tasks/{task_id}/{action}",
    response_model=Task,
    summary="Cancel a pending task; redrive or discard a dead one",
)
async def task_action(
    task_id: int,
    action: Literal["cancel", "redrive", "discard"],
    tenant: WriterTenant,
) -> object:
    return await getattr(tenant.tasks, action)(task_id)
