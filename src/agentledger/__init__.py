"""agentledger: the PostgreSQL system of record for AI-agent applications."""

from agentledger.config import Settings
from agentledger.errors import (
    ConfigError,
    Conflict,
    IllegalTransition,
    InvalidInput,
    LedgerError,
    MissingExtension,
    NotFound,
    PermissionDenied,
    QueryTimeout,
    TenantInactive,
    TenantMismatch,
    Unavailable,
    VersionConflict,
)
from agentledger.ledger import AsyncLedger, Health, Ledger
from agentledger.memory import (
    EMBEDDING_DIMENSIONS,
    Embedder,
    Entity,
    Filter,
    HashingEmbedder,
    MemoryStats,
    Neighbour,
    NewEntity,
    PathStep,
    Relationship,
    RetentionResult,
    SearchHit,
    UpsertResult,
)
from agentledger.tenants import ApiKey, CreatedKey, KeyIdentity, Tenant

__version__ = "0.1.0"

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "ApiKey",
    "AsyncLedger",
    "ConfigError",
    "Conflict",
    "CreatedKey",
    "Embedder",
    "Entity",
    "Filter",
    "HashingEmbedder",
    "Health",
    "IllegalTransition",
    "InvalidInput",
    "KeyIdentity",
    "Ledger",
    "LedgerError",
    "MemoryStats",
    "MissingExtension",
    "Neighbour",
    "NewEntity",
    "NotFound",
    "PathStep",
    "PermissionDenied",
    "QueryTimeout",
    "Relationship",
    "RetentionResult",
    "SearchHit",
    "Settings",
    "Tenant",
    "TenantInactive",
    "TenantMismatch",
    "Unavailable",
    "UpsertResult",
    "VersionConflict",
]
