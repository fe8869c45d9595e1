"""What a worker needs from the database: claims, outcomes, heartbeats and wake-ups.

A tenant-bound source claims one tenant's work; a platform source claims fairly across
tenants and settles each task in its own tenant's binding (so RLS still guards the writes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase, AsyncSession
from agentledger.db.listen_async import AsyncListener
from agentledger.errors import NotFound, TenantInactive, TenantMismatch
from agentledger.tasks import completion, ops
from agentledger.tasks.books import Books
from agentledger.tasks.completion import Completing
from agentledger.tasks.records import TASKS_CHANNEL, Cycle, Outcome, Settled, Task

S = TypeVar("S")
T = TypeVar("T")


class AsyncTaskSource:
    def __init__(self, db: AsyncDatabase, binding: Binding, *, agent: str | None = None) -> None:
        self._db = db
        self._binding = binding
        self.agent = agent

    @property
    def platform(self) -> bool:
        return self._binding.tenant is None

    async def claim(self, queue: str, limit: int, lease: float, worker: str) -> list[Task]:
        if self.platform:
            op = ops.claim_fair(queue, limit=limit, lease=lease, worker=worker)
            return await self._db.run(op, self._binding)
        op = ops.claim(queue, limit=limit, lease=lease, worker=worker, agent=self.agent)
        return await self._db.run(op, self._binding)

    async def cycle(
        self, done: Sequence[tuple[str, Outcome]], queue: str, limit: int, lease: float, worker: str
    ) -> Cycle:
        """Settle ``done``, then claim up to ``limit`` tasks: one statement for a tenant's
        worker; per-tenant settles and a fair claim for a platform worker."""
        if self.platform:
            settled = await self.settle(done)
            claimed = await self.claim(queue, limit, lease, worker) if limit else []
            return Cycle(settled=settled, claimed=claimed)
        op = ops.settle_and_claim(
            [o for _, o in done], queue, limit=limit, lease=lease, worker=worker, agent=self.agent
        )
        return await self._db.run(op, self._binding)

    async def turn(self, books: Books, queue: str, limit: int, worker: str) -> list[Task]:
        """A worker's turn: settle what ``books`` owe and claim up to ``limit`` tasks of
        ``queue`` (in one round trip for a tenant's worker); returns the tasks claimed, now
        held. Outcomes stay owed until the database has taken them."""
        batch = books.to_send(limit)
        if batch is None:
            return []
        return books.sent(batch, await self.cycle(batch, queue, limit, books.options.lease, worker))

    async def upkeep(self, books: Books) -> None:
        """Extend the leases of the tasks ``books`` hold, and prune old tasks, when due."""
        options = books.options
        if books.beat.due():
            if books.held:
                await self.heartbeat(list(books.held.values()), options.lease)
            books.beat.done()
        if options.retention is not None and books.prune.due():
            await self.prune(options.retention)
            books.prune.done()

    async def settle(self, done: Sequence[tuple[str, Outcome]]) -> Settled:
        """Outcomes of (tenant, outcome) pairs: one statement per tenant involved.

        A tenant that cannot be written any more (suspended, archived or gone) does not stop
        the others: its outcomes are dropped, counted as refused, and its tasks are claimed
        again once it is active and their leases have run out (as after a worker's crash).
        """
        applied: dict[int, str] = {}
        refused: list[int] = []
        for tenant, outcomes in _by_tenant(done).items():
            try:
                result = await self._db.run(ops.settle(outcomes), Binding.to_tenant(tenant))
            except (TenantInactive, NotFound):
                refused.extend(o.id for o in outcomes)
                continue
            applied.update(result.applied)
            refused.extend(result.refused)
        return Settled(applied=applied, refused=refused)

    async def heartbeat(self, tasks: Sequence[Task], lease: float) -> list[int]:
        """Extend leases; returns the ids still held. A tenant that cannot be written any
        more (suspended, archived or gone) keeps no lease; the other tenants' are extended."""
        held: list[int] = []
        pairs = [(t.tenant_id, (t.id, t.claim_token)) for t in tasks if t.claim_token]
        for tenant, claims in _by_tenant(pairs).items():
            try:
                still: list[int] = await self._db.run(
                    ops.heartbeat(claims, lease=lease), Binding.to_tenant(tenant)
                )
            except (TenantInactive, NotFound):
                continue
            held.extend(still)
        return held

    async def prune(self, older_than: float) -> int:
        if self.platform:
            return 0
        return await self._db.run(ops.prune(older_than=older_than), self._binding)

    @asynccontextmanager
    async def completing(
        self,
        task: Task,
        scope: Callable[[AsyncSession], S],
        output: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Completing[S]]:
        """A transaction bound to the task's tenant (``scope`` makes the caller's handle on
        it) that completes the task as the block ends, with ``output`` as it stands then.

        The claim is checked first and by the completion: LeaseLost when the task no longer
        runs under this claim (its lease expired and another worker took it, or it was
        released), and nothing of the block is committed. An exception in the block rolls
        it back too, and leaves the task running under its claim.
        """
        claim = ops.outcome(task, "complete")  # the claim's id and token, checked
        async with self._db.transaction(self._binding_of(task)) as session:
            await session.run(completion.check_claim(claim.id, claim.token))
            held = Completing(scope(session), output)
            yield held
            output = held.output
            done = replace(claim, output=None if output is None else dict(output))
            await session.run(completion.complete(done))

    def _binding_of(self, task: Task) -> Binding:
        if self.platform:
            return Binding.to_tenant(task.tenant_id)
        if task.tenant_id != self._binding.tenant:
            raise TenantMismatch(
                f"task {task.id} belongs to tenant {task.tenant_id!r}, "
                f"not to {self._binding.tenant!r}",
                field="task",
            )
        return self._binding

    @property
    def pool_max_size(self) -> int:
        """How many connections the pool lends at most (a transactional handler holds one)."""
        return self._db.settings.pool_max_size

    def listener(self) -> AsyncListener:
        return self._db.listener(TASKS_CHANNEL)


def _by_tenant(pairs: Sequence[tuple[str, T]]) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for tenant, item in pairs:
        groups[tenant].append(item)
    return groups
