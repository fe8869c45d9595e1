"""The bound tenant's alerts: the async façade."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from agentledger.alerts import ops
from agentledger.alerts.records import Alert
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async


class AsyncAlerts(AsyncFacade):
    """Raise tiered alerts (1 urgent, 2 important, 3 info), acknowledge and resolve them."""

    create = forward_async(ops.raise_, new_id="id")

    async def acknowledge(
        self, alert_id: UUID | str, *, by: str | None = None, at: datetime | None = None
    ) -> Alert:
        """Acknowledge a pending alert; ``at`` dates an imported change (default now)."""
        return await self._run(ops.transition(alert_id, "acknowledge", by=by, at=at))

    async def resolve(
        self, alert_id: UUID | str, *, by: str | None = None, at: datetime | None = None
    ) -> Alert:
        """Resolve an open alert; ``at`` dates an imported change (default now)."""
        return await self._run(ops.transition(alert_id, "resolve", by=by, at=at))

    get = forward_async(ops.get)
    pending = forward_async(ops.pending)
    raised = forward_async(ops.raised)
    pending_counts = forward_async(ops.pending_counts)
    list = forward_async(ops.list_)
