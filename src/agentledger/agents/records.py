"""Agent registry records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

AGENT_STATUSES = ("available", "busy", "offline", "error")


@dataclass(frozen=True, kw_only=True, slots=True)
class Agent:
    """A registered agent. ``status`` reads ``offline`` once the agent has not heartbeated
    within ``heartbeat_timeout`` seconds, whatever it last reported; an agent whose
    ``heartbeat_timeout`` is None keeps no heartbeat and shows what it last reported."""

    tenant_id: str
    name: str
    agent_type: str
    domain: str
    command: str | None
    capabilities: list[str]
    config: dict[str, Any]
    status: str
    heartbeat_timeout: float | None
    last_heartbeat_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
