# Generated from src/agentledger/alerts/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's alerts: the async façade."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from agentledger.alerts import ops
from agentledger.alerts.records import Alert
from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync


class Alerts(Facade):
    """Raise tiered alerts (1 urgent, 2 important, 3 info), acknowledge and resolve them."""

    create = forward_sync(ops.raise_, new_id="id")

    def acknowledge(
        self, alert_id: UUID | str, *, by: str | None = None, at: datetime | None = None
    ) -> Alert:
        """Acknowledge a pending alert; ``at`` dates an imported change (default now)."""
        return self._run(ops.transition(alert_id, "acknowledge", by=by, at=at))

    def resolve(
        self, alert_id: UUID | str, *, by: str | None = None, at: datetime | None = None
    ) -> Alert:
        """Resolve an open alert; ``at`` dates an imported change (default now)."""
        return self._run(ops.transition(alert_id, "resolve", by=by, at=at))

    get = forward_sync(ops.get)
    pending = forward_sync(ops.pending)
    raised = forward_sync(ops.raised)
    pending_counts = forward_sync(ops.pending_counts)
    list = forward_sync(ops.list_)
