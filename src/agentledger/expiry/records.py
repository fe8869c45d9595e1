"""Records of the expiry module."""

from __future__ import annotations

from dataclasses import dataclass

from agentledger.memory.records import Entity


@dataclass(frozen=True, kw_only=True, slots=True)
class Found:
    """An entity a read found alive: its score (a search's similarity, else None) and the TTL
    it holds, in minutes (None: it never expires)."""

    entity: Entity
    score: float | None = None
    ttl_minutes: float | None = None
