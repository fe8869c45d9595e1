"""Alert records, tiers, the alert lifecycle and the notification payload."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Self
from uuid import UUID

from agentledger.lifecycle import Lifecycle

TIERS = {"urgent": 1, "important": 2, "info": 3}
# Each new alert notifies this channel: {"tenant_id", "alert_id", "tier"} as JSON.
ALERTS_CHANNEL = "agentledger_alerts"
ALERT_LIFECYCLE = Lifecycle(
    "alert",
    {
        "pending": {"acknowledge": "acknowledged", "resolve": "resolved"},
        "acknowledged": {"resolve": "resolved"},
        "resolved": {},
    },
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Alert:
    """An alert; ``occurrences`` counts repeats folded into it by its dedup key.
    ``created_at`` is when it happened (``at=`` may set it in the past), ``recorded_at``
    when the ledger stored it."""

    id: UUID
    tier: int
    title: str
    body: str
    action_required: bool
    run_id: UUID | None
    entity_ref: str | None
    case_ref: str | None
    dedup_key: str | None
    occurrences: int
    status: str
    created_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    recorded_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertNotice:
    """What a listener on ALERTS_CHANNEL hears about a new alert."""

    tenant_id: str
    alert_id: UUID
    tier: int

    @classmethod
    def parse(cls, payload: str) -> Self:
        data = json.loads(payload)
        return cls(tenant_id=data["tenant_id"], alert_id=UUID(data["alert_id"]), tier=data["tier"])
