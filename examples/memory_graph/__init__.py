"""Seed 002, the contextual memory graph's PostgreSQL backend, rebuilt on agentledger."""

from examples.memory_graph.backend import TENANT, PostgresMemoryBackend, UserMemories
from examples.memory_graph.config import memory_settings, postgres_enabled
from examples.memory_graph.factory import (
    DisabledMemoryBackend,
    MemoryBackend,
    close_postgres_backend,
    get_postgres_backend,
)
from examples.memory_graph.graph import ContextualMemoryGraph
from examples.memory_graph.local import LocalStore
from examples.memory_graph.models import ContextType, MemoryNode, RelationshipType

__all__ = [
    "TENANT",
    "ContextType",
    "ContextualMemoryGraph",
    "DisabledMemoryBackend",
    "LocalStore",
    "MemoryBackend",
    "MemoryNode",
    "PostgresMemoryBackend",
    "RelationshipType",
    "UserMemories",
    "close_postgres_backend",
    "get_postgres_backend",
    "memory_settings",
    "postgres_enabled",
]
