"""agentledger: the PostgreSQL system of record for AI-agent applications."""

from agentledger.agents import Agent
from agentledger.alerts import Alert, AlertNotice
from agentledger.config import Settings
from agentledger.decisions import AcceptanceStat, Decision
from agentledger.errors import (
    ConfigError,
    Conflict,
    IllegalTransition,
    InvalidInput,
    LeaseLost,
    LedgerError,
    MalformedRequest,
    MissingExtension,
    NotFound,
    PermissionDenied,
    QueryTimeout,
    Spooled,
    TenantInactive,
    TenantMismatch,
    Unavailable,
    VersionConflict,
)
from agentledger.events import Appended, Event, NewEvent
from agentledger.ledger import AsyncLedger, Health, Ledger
from agentledger.memory import (
    EMBEDDING_DIMENSIONS,
    Embedder,
    Entity,
    Filter,
    HashingEmbedder,
    MemoryStats,
    MiniLMEmbedder,
    Neighbour,
    NewEntity,
    PathStep,
    Relationship,
    RetentionResult,
    SearchHit,
    UpsertResult,
)
from agentledger.runs import Run, RunStat
from agentledger.tasks import NewTask, Outcome, QueueStats, Settled, Task
from agentledger.tenants import ApiKey, CreatedKey, KeyIdentity, Tenant

__version__ = "0.1.0"

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "AcceptanceStat",
    "Agent",
    "Alert",
    "AlertNotice",
    "ApiKey",
    "Appended",
    "AsyncLedger",
    "ConfigError",
    "Conflict",
    "CreatedKey",
    "Decision",
    "Embedder",
    "Entity",
    "Event",
    "Filter",
    "HashingEmbedder",
    "Health",
    "IllegalTransition",
    "InvalidInput",
    "KeyIdentity",
    "LeaseLost",
    "Ledger",
    "LedgerError",
    "MalformedRequest",
    "MemoryStats",
    "MiniLMEmbedder",
    "MissingExtension",
    "Neighbour",
    "NewEntity",
    "NewEvent",
    "NewTask",
    "NotFound",
    "Outcome",
    "PathStep",
    "PermissionDenied",
    "QueryTimeout",
    "QueueStats",
    "Relationship",
    "RetentionResult",
    "Run",
    "RunStat",
    "SearchHit",
    "Settings",
    "Settled",
    "Spooled",
    "Task",
    "Tenant",
    "TenantInactive",
    "TenantMismatch",
    "Unavailable",
    "UpsertResult",
    "VersionConflict",
]
