"""Memory: entities with merge-upsert, relationships, fuzzy / text / vector / hybrid search."""

from agentledger.memory.embedder import Embedder, HashingEmbedder
from agentledger.memory.filters import Filter
from agentledger.memory.minilm import MiniLMEmbedder
from agentledger.memory.records import (
    EMBEDDING_DIMENSIONS,
    RELATIONSHIP_TYPES,
    EmbeddingSpace,
    Entity,
    Languages,
    LanguageStatus,
    MemoryStats,
    Neighbour,
    NewEntity,
    PathStep,
    ReembedStatus,
    Relationship,
    RetentionResult,
    SearchHit,
    UpsertResult,
    Vocabulary,
)

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "RELATIONSHIP_TYPES",
    "Embedder",
    "EmbeddingSpace",
    "Entity",
    "Filter",
    "HashingEmbedder",
    "LanguageStatus",
    "Languages",
    "MemoryStats",
    "MiniLMEmbedder",
    "Neighbour",
    "NewEntity",
    "PathStep",
    "ReembedStatus",
    "Relationship",
    "RetentionResult",
    "SearchHit",
    "UpsertResult",
    "Vocabulary",
]
