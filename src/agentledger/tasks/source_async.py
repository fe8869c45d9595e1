"""What a worker needs from the database: claims, outcomes, heartbeats and wake-ups.

A tenant-bound source claims one tenant's work; a platform source claims fairly across
tenants and settles each task in its own tenant's binding (so RLS still guards the writes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase
from agentledger.db.listen_async import AsyncListener
from agentledger.tasks import ops
from agentledger.tasks.records import TASKS_CHANNEL, Cycle, Outcome, Settled, Task

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

    async def settle(self, done: Sequence[tuple[str, Outcome]]) -> Settled:
        """Outcomes of (tenant, outcome) pairs: one statement per tenant involved."""
        applied: dict[int, str] = {}
        refused: list[int] = []
        for tenant, outcomes in _by_tenant(done).items():
            result = await self._db.run(ops.settle(outcomes), Binding.to_tenant(tenant))
            applied.update(result.applied)
            refused.extend(result.refused)
        return Settled(applied=applied, refused=refused)

    async def heartbeat(self, tasks: Sequence[Task], lease: float) -> list[int]:
        """Extend leases; returns the ids still held."""
        held: list[int] = []
        pairs = [(t.tenant_id, (t.id, t.claim_token)) for t in tasks if t.claim_token]
        for tenant, claims in _by_tenant(pairs).items():
            still: list[int] = await self._db.run(
                ops.heartbeat(claims, lease=lease), Binding.to_tenant(tenant)
            )
            held.extend(still)
        return held

    async def prune(self, older_than: float) -> int:
        if self.platform:
            return 0
        return await self._db.run(ops.prune(older_than=older_than), self._binding)

    def listener(self) -> AsyncListener:
        return self._db.listener(TASKS_CHANNEL)


def _by_tenant(pairs: Sequence[tuple[str, T]]) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for tenant, item in pairs:
        groups[tenant].append(item)
    return groups
