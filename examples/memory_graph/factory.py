"""The shared backend (``await get_postgres_backend()``), and the no-op one it gives when
PostgreSQL is disabled (``POSTGRES_ENABLED=false``): callers run on SQLite alone, with no
code changes."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from examples.memory_graph.backend import PostgresMemoryBackend, UserMemories
from examples.memory_graph.config import integer, postgres_enabled
from examples.memory_graph.models import ContextType, MemoryNode, RelationshipType

log = logging.getLogger("memory_graph.postgres")


class DisabledMemoryBackend:
    """The backend's interface doing nothing: stores return the node's own id, reads
    return nothing. ``enabled`` is False, so callers can tell without catching anything."""

    enabled = False

    async def close(self) -> None:
        return None

    async def health_check(self) -> bool:
        return False

    async def store_node(
        self, node: MemoryNode, user_id: str, *, at: datetime | None = None
    ) -> str:
        return node.node_id

    async def get_node(self, node_id: str, user_id: str) -> MemoryNode | None:
        return None

    async def delete_node(self, node_id: str, user_id: str) -> bool:
        return False

    async def search_nodes(
        self,
        user_id: str,
        query: str,
        context_filter: Iterable[ContextType | str] | None = None,
        limit: int = 50,
    ) -> list[MemoryNode]:
        return []

    async def get_nodes_by_user(self, user_id: str, limit: int = 1000) -> list[MemoryNode]:
        return []

    async def cleanup_old_nodes(self, user_id: str, days: int = 90) -> int:
        return 0

    async def get_user_stats(self, user_id: str) -> dict[str, Any]:
        return {
            "user_id": user_id,
            "total_nodes": 0,
            "total_relationships": 0,
            "nodes_by_context_type": {},
            "last_activity": None,
        }

    async def store_relationship(
        self,
        user_id: str,
        from_node_id: str,
        to_node_id: str,
        relationship_type: RelationshipType | str,
        strength: float = 1.0,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        return ""

    async def get_relationships(self, node_id: str, user_id: str) -> list[dict[str, Any]]:
        return []

    async def load_user_memories(self, user_id: str) -> UserMemories:
        return UserMemories(nodes=[], relationships=[], queries=0, incomplete=[])


MemoryBackend = PostgresMemoryBackend | DisabledMemoryBackend


class _Shared:
    """The process's one backend, made on first use."""

    backend: MemoryBackend | None = None
    lock = asyncio.Lock()


async def get_postgres_backend() -> MemoryBackend:
    """The shared backend: PostgreSQL (pool of ``POSTGRES_POOL_SIZE``), or the no-op
    ``DisabledMemoryBackend`` when ``POSTGRES_ENABLED`` is false. Made once per process."""
    async with _Shared.lock:
        if _Shared.backend is None:
            if postgres_enabled():
                backend = PostgresMemoryBackend(pool_size=integer(os.environ, "POSTGRES_POOL_SIZE"))
                _Shared.backend = await backend.initialize()
            else:
                log.info("POSTGRES_ENABLED is false: memories stay in the local store")
                _Shared.backend = DisabledMemoryBackend()
        return _Shared.backend


async def close_postgres_backend() -> None:
    """Close the shared backend (the next ``get_postgres_backend`` makes a new one)."""
    async with _Shared.lock:
        if _Shared.backend is not None:
            await _Shared.backend.close()
            _Shared.backend = None
