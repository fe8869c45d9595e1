"""The task queue of one tenant, and cross-tenant claims for platform workers: async façade."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase, AsyncRunner, AsyncSession
from agentledger.db.forward import forward_async
from agentledger.tasks import ops
from agentledger.tasks.books import WorkerOptions
from agentledger.tasks.records import Task
from agentledger.tasks.source_async import AsyncTaskSource
from agentledger.tasks.worker import AsyncHandler, AsyncTransactionalHandler, AsyncWorker

PLATFORM = Binding.platform()
# The transaction scope a task's handler writes through (the ledger's AsyncTransaction).
S = TypeVar("S")


class AsyncTasks(Generic[S]):
    """Enqueue, claim, settle and inspect the bound tenant's tasks; run workers.

    ``scope`` makes the transaction scope that ``completing`` and transactional workers
    hand out, of an open transaction's session.
    """

    def __init__(
        self,
        run: AsyncRunner,
        db: AsyncDatabase | None,
        tenant_id: str,
        scope: Callable[[AsyncSession], S],
    ) -> None:
        self._run = run
        self._db = db
        self._tenant_id = tenant_id
        self._scope = scope

    def _source(self, agent: str | None = None) -> AsyncTaskSource:
        if self._db is None:
            raise RuntimeError(
                "workers and completing() run on a tenant scope, not inside a transaction"
            )
        return AsyncTaskSource(self._db, Binding.to_tenant(self._tenant_id), agent=agent)

    async def enqueue(
        self,
        queue: str,
        input: Mapping[str, Any] | None = None,
        *,
        task_type: str = "",
        priority: int = 0,
        agent_name: str | None = None,
        max_attempts: int = 5,
        retry_delay: float = 1.0,
        run_after: datetime | None = None,
        session_id: str | None = None,
        entity_id: str | None = None,
        dedup_key: str | None = None,
    ) -> Task:
        """Add a task; a ``dedup_key`` held by an unfinished task returns that task."""
        return await self._run(
            ops.enqueue(
                queue,
                input,
                task_type=task_type,
                priority=priority,
                agent_name=agent_name,
                max_attempts=max_attempts,
                retry_delay=retry_delay,
                run_after=run_after,
                session_id=session_id,
                entity_id=entity_id,
                dedup_key=dedup_key,
            )
        )

    enqueue_many = forward_async(ops.enqueue_many)
    claim = forward_async(ops.claim)

    async def complete(
        self,
        task: Task | int,
        output: Mapping[str, Any] | None = None,
        *,
        token: UUID | str | None = None,
    ) -> Task:
        """Complete a claimed task; Conflict when its lease was lost to another claim."""
        return await self._run(
            ops.settle_one(ops.outcome(task, "complete", token=token, output=output))
        )

    async def fail(
        self,
        task: Task | int,
        error: str,
        *,
        retry: bool = True,
        token: UUID | str | None = None,
    ) -> Task:
        """Fail a claimed task: it retries after a backoff, or goes dead when spent."""
        return await self._run(
            ops.settle_one(ops.outcome(task, "fail", token=token, error=error, retry=retry))
        )

    async def release(self, task: Task | int, *, token: UUID | str | None = None) -> Task:
        """Give a claimed task back to the queue without spending an attempt."""
        return await self._run(ops.settle_one(ops.outcome(task, "release", token=token)))

    settle = forward_async(ops.settle)

    @asynccontextmanager
    async def completing(
        self, task: Task, output: Mapping[str, Any] | None = None
    ) -> AsyncIterator[S]:
        """``async with scope.tasks.completing(task) as tx:`` a transaction (the same scope
        ``transaction()`` gives) whose writes commit together with the claimed ``task``'s
        completion (with ``output``), or not at all.

        LeaseLost, on entry or on exit, when the task no longer runs under this claim (its
        lease expired and another worker took it over, or it was released): nothing of the
        block is committed. An exception in the block rolls it back and leaves the task
        running under its claim (fail or release it as usual).
        """
        async with self._source().completing(task, self._scope, output) as held:
            yield held.tx

    heartbeat = forward_async(ops.heartbeat)
    get = forward_async(ops.get)

    async def cancel(self, task_id: int) -> Task:
        """Cancel a pending task."""
        return await self._run(ops.transition(task_id, "cancel"))

    async def redrive(self, task_id: int) -> Task:
        """Send a dead task back to pending with fresh attempts."""
        return await self._run(ops.transition(task_id, "redrive"))

    async def discard(self, task_id: int) -> Task:
        """Set a dead task aside: cancelled, kept with its error until pruned."""
        return await self._run(ops.transition(task_id, "discard"))

    redrive_queue = forward_async(ops.redrive_queue)
    dead_letters = forward_async(ops.dead_letters)
    stats = forward_async(ops.stats)
    depth = forward_async(ops.depth)
    prune = forward_async(ops.prune)

    def worker(
        self,
        queue: str,
        handler: AsyncHandler | AsyncTransactionalHandler,
        *,
        concurrency: int = 10,
        lease: float = 60.0,
        poll_interval: float = 1.0,
        grace: float = 30.0,
        retention: float | None = None,
        worker_id: str = "",
        agent: str | None = None,
        transactional: bool = False,
    ) -> AsyncWorker:
        """A worker for this tenant's ``queue``; call ``run()`` on it.

        ``transactional``: the handler is called as ``handler(task, tx)`` inside
        ``completing(task)``, its result the output: its writes through ``tx`` commit with
        the completion, exactly once. Each running handler holds a pooled connection, so
        ``concurrency`` must stay below the pool's ``pool_max_size``.
        """
        options = WorkerOptions(
            concurrency=concurrency,
            lease=lease,
            poll_interval=poll_interval,
            grace=grace,
            retention=retention,
            worker_id=worker_id,
            transactional=transactional,
        )
        return AsyncWorker(self._source(agent), queue, handler, options, scope=self._scope)

    list = forward_async(ops.list_)


class AsyncPlatformTasks(Generic[S]):
    """Platform workers: claim fairly across every active tenant's queue."""

    def __init__(self, db: AsyncDatabase, scope: Callable[[AsyncSession], S]) -> None:
        self._db = db
        self._scope = scope

    async def claim(
        self, queue: str, *, limit: int = 10, lease: float = 60.0, worker: str | None = None
    ) -> list[Task]:
        """An equal share of ``limit`` per tenant with ready work (longest-waiting first)."""
        return await self._db.run(
            ops.claim_fair(queue, limit=limit, lease=lease, worker=worker), PLATFORM
        )

    @asynccontextmanager
    async def completing(
        self, task: Task, output: Mapping[str, Any] | None = None
    ) -> AsyncIterator[S]:
        """As a tenant's ``completing``, in the transaction of the task's own tenant."""
        async with AsyncTaskSource(self._db, PLATFORM).completing(
            task, self._scope, output
        ) as held:
            yield held.tx

    def worker(
        self,
        queue: str,
        handler: AsyncHandler | AsyncTransactionalHandler,
        *,
        concurrency: int = 10,
        lease: float = 60.0,
        poll_interval: float = 1.0,
        grace: float = 30.0,
        worker_id: str = "",
        transactional: bool = False,
    ) -> AsyncWorker:
        """A worker over every tenant's ``queue``, settling each task in its own tenant
        (``transactional``: as a tenant's worker, each transaction in the task's tenant)."""
        options = WorkerOptions(
            concurrency=concurrency,
            lease=lease,
            poll_interval=poll_interval,
            grace=grace,
            worker_id=worker_id,
            transactional=transactional,
        )
        source = AsyncTaskSource(self._db, PLATFORM)
        return AsyncWorker(source, queue, handler, options, scope=self._scope)
