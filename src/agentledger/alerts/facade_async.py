"""The bound tenant's alerts: the async façade."""

from __future__ import annotations

import uuid
from uuid import UUID

from agentledger.alerts import ops
from agentledger.alerts.records import Alert
from agentledger.db.database_async import AsyncRunner
from agentledger.db.forward import forward_async


class AsyncAlerts:
    """Raise tiered alerts (1 urgent, 2 important, 3 info), acknowledge and resolve them."""

    def __init__(self, run: AsyncRunner) -> None:
        self._run = run

    async def create(
        self,
        tier: int | str,
        title: str,
        *,
        body: str = "",
        action_required: bool = False,
        run_id: UUID | str | None = None,
        entity_ref: str | None = None,
        case_ref: str | None = None,
        dedup_key: str | None = None,
        id: UUID | str | None = None,
    ) -> Alert:
        """A pending alert; a repeat of an open alert's ``dedup_key`` bumps its occurrences
        instead. New alerts are announced on ALERTS_CHANNEL when the transaction commits.
        ``id`` (made here when not given) makes the call repeatable: the same id again
        returns the alert it created or bumped, unchanged."""
        return await self._run(
            ops.raise_(
                tier,
                title,
                body=body,
                action_required=action_required,
                run_id=run_id,
                entity_ref=entity_ref,
                case_ref=case_ref,
                dedup_key=dedup_key,
                id=uuid.uuid4() if id is None else id,
            )
        )

    async def acknowledge(self, alert_id: UUID | str, *, by: str | None = None) -> Alert:
        return await self._run(ops.transition(alert_id, "acknowledge", by=by))

    async def resolve(self, alert_id: UUID | str, *, by: str | None = None) -> Alert:
        return await self._run(ops.transition(alert_id, "resolve", by=by))

    get = forward_async(ops.get)

    async def pending(self, tier: int | str | None = None, *, limit: int = 100) -> list[Alert]:
        """Pending alerts, most urgent first."""
        return await self._run(ops.pending(tier, limit=limit))

    async def list(
        self,
        *,
        status: str | None = None,
        tier: int | str | None = None,
        before: UUID | str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        return await self._run(ops.list_(status=status, tier_=tier, before=before, limit=limit))
