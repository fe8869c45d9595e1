"""Memory: entities with merge-upsert, relationships, fuzzy / text / vector / hybrid search."""

from agentledger.keyset import (
    ListPosition as ListPosition,
)
from agentledger.memory.embedder import (
    Embedder as Embedder,
    HashingEmbedder as HashingEmbedder,
)
from agentledger.memory.filters import (
    Filter as Filter,
)
from agentledger.memory.minilm import (
    MiniLMEmbedder as MiniLMEmbedder,
)
from agentledger.memory.records import (
    EMBEDDING_DIMENSIONS as EMBEDDING_DIMENSIONS,
    RELATIONSHIP_TYPES as RELATIONSHIP_TYPES,
    EmbeddingSpace as EmbeddingSpace,
    Entity as Entity,
    Languages as Languages,
    LanguageStatus as LanguageStatus,
    MemoryStats as MemoryStats,
    Neighbour as Neighbour,
    NewEntity as NewEntity,
    PathStep as PathStep,
    ReembedStatus as ReembedStatus,
    Relationship as Relationship,
    RetentionResult as RetentionResult,
    SearchHit as SearchHit,
    UpsertResult as UpsertResult,
    Vocabulary as Vocabulary,
)
