"""agentledger: the PostgreSQL system of record for AI-agent applications."""

from agentledger.agents import Agent
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
from agentledger.tasks import NewTask, Outcome, QueueStats, Settled, Task
from agentledger.tenants import ApiKey, CreatedKey, KeyIdentity, Tenant

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "ApiKey",
    "AsyncLedger",
    "ConfigError",
    "Conflict",
    "CreatedKey",
    "Health",
    "IllegalTransition",
    "InvalidInput",
    "KeyIdentity",
    "Ledger",
    "LedgerError",
    "MissingExtension",
    "NewTask",
    "NotFound",
    "Outcome",
    "PermissionDenied",
    "QueryTimeout",
    "QueueStats",
    "Settings",
    "Settled",
    "Task",
    "Tenant",
    "TenantInactive",
    "TenantMismatch",
    "Unavailable",
    "VersionConflict",
]
