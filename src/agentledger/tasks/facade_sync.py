# Generated from src/agentledger/tasks/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The task queue of one tenant, and cross-tenant claims for platform workers: async façade."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from agentledger.db.binding import Binding
from agentledger.db.database_sync import Database, Runner, Session
from agentledger.db.forward import forward_sync
from agentledger.tasks import ops
from agentledger.tasks.books import WorkerOptions
from agentledger.tasks.records import Task
from agentledger.tasks.source_sync import TaskSource
from agentledger.tasks.worker import Handler, TransactionalHandler, Worker

PLATFORM = Binding.platform()
# The transaction scope a task's handler writes through (the ledger's Transaction).
S = TypeVar("S")


class Tasks(Generic[S]):
    """Enqueue, claim, settle and inspect the bound tenant's tasks; run workers.

    ``scope`` makes the transaction scope that ``completing`` and transactional workers
    hand out, of an open transaction's session.
    """

    def __init__(
        self,
        run: Runner,
        db: Database | None,
        tenant_id: str,
        scope: Callable[[Session], S],
    ) -> None:
        self._run = run
        self._db = db
        self._tenant_id = tenant_id
        self._scope = scope

    def _source(self, agent: str | None = None) -> TaskSource:
        if self._db is None:
            raise RuntimeError(
                "workers and completing() run on a tenant scope, not inside a transaction"
            )
        return TaskSource(self._db, Binding.to_tenant(self._tenant_id), agent=agent)

    def enqueue(
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
        return self._run(
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

    enqueue_many = forward_sync(ops.enqueue_many)
    claim = forward_sync(ops.claim)

    def complete(
        self,
        task: Task | int,
        output: Mapping[str, Any] | None = None,
        *,
        token: UUID | str | None = None,
    ) -> Task:
        """Complete a claimed task; Conflict when its lease was lost to another claim."""
        return self._run(ops.settle_one(ops.outcome(task, "complete", token=token, output=output)))

    def fail(
        self,
        task: Task | int,
        error: str,
        *,
        retry: bool = True,
        token: UUID | str | None = None,
    ) -> Task:
        """Fail a claimed task: it retries after a backoff, or goes dead when spent."""
        return self._run(
            ops.settle_one(ops.outcome(task, "fail", token=token, error=error, retry=retry))
        )

    def release(self, task: Task | int, *, token: UUID | str | None = None) -> Task:
        """Give a claimed task back to the queue without spending an attempt."""
        return self._run(ops.settle_one(ops.outcome(task, "release", token=token)))

    settle = forward_sync(ops.settle)

    @contextmanager
    def completing(self, task: Task, output: Mapping[str, Any] | None = None) -> Iterator[S]:
        """``with scope.tasks.completing(task) as tx:`` a transaction (the same scope
        ``transaction()`` gives) whose writes commit together with the claimed ``task``'s
        completion (with ``output``), or not at all.

        LeaseLost, on entry or on exit, when the task no longer runs under this claim (its
        lease expired and another worker took it over, or it was released): nothing of the
        block is committed. An exception in the block rolls it back and leaves the task
        running under its claim (fail or release it as usual).
        """
        with self._source().completing(task, self._scope, output) as held:
            yield held.tx

    heartbeat = forward_sync(ops.heartbeat)
    get = forward_sync(ops.get)

    def cancel(self, task_id: int) -> Task:
        """Cancel a pending task."""
        return self._run(ops.transition(task_id, "cancel"))

    def redrive(self, task_id: int) -> Task:
        """Send a dead task back to pending with fresh attempts."""
        return self._run(ops.transition(task_id, "redrive"))

    def discard(self, task_id: int) -> Task:
        """Set a dead task aside: cancelled, kept with its error until pruned."""
        return self._run(ops.transition(task_id, "discard"))

    redrive_queue = forward_sync(ops.redrive_queue)
    dead_letters = forward_sync(ops.dead_letters)
    stats = forward_sync(ops.stats)
    depth = forward_sync(ops.depth)
    prune = forward_sync(ops.prune)

    def worker(
        self,
        queue: str,
        handler: Handler | TransactionalHandler,
        *,
        concurrency: int = 10,
        lease: float = 60.0,
        poll_interval: float = 1.0,
        grace: float = 30.0,
        retention: float | None = None,
        worker_id: str = "",
        agent: str | None = None,
        transactional: bool = False,
    ) -> Worker:
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
        return Worker(self._source(agent), queue, handler, options, scope=self._scope)

    list = forward_sync(ops.list_)


class PlatformTasks(Generic[S]):
    """Platform workers: claim fairly across every active tenant's queue."""

    def __init__(self, db: Database, scope: Callable[[Session], S]) -> None:
        self._db = db
        self._scope = scope

    def claim(
        self, queue: str, *, limit: int = 10, lease: float = 60.0, worker: str | None = None
    ) -> list[Task]:
        """An equal share of ``limit`` per tenant with ready work (longest-waiting first)."""
        return self._db.run(
            ops.claim_fair(queue, limit=limit, lease=lease, worker=worker), PLATFORM
        )

    @contextmanager
    def completing(self, task: Task, output: Mapping[str, Any] | None = None) -> Iterator[S]:
        """As a tenant's ``completing``, in the transaction of the task's own tenant."""
        with TaskSource(self._db, PLATFORM).completing(task, self._scope, output) as held:
            yield held.tx

    def worker(
        self,
        queue: str,
        handler: Handler | TransactionalHandler,
        *,
        concurrency: int = 10,
        lease: float = 60.0,
        poll_interval: float = 1.0,
        grace: float = 30.0,
        worker_id: str = "",
        transactional: bool = False,
    ) -> Worker:
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
        source = TaskSource(self._db, PLATFORM)
        return Worker(source, queue, handler, options, scope=self._scope)
