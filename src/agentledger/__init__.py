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
    Spooled,
    TenantInactive,
    TenantMismatch,
    Unavailable,
    VersionConflict,
)
from agentledger.ledger import AsyncLedger, Health, Ledger
from agentledger.tenants import ApiKey, CreatedKey, KeyIdentity, Tenant

__version__ = "0.1.0"

__all__ = [
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
    "NotFound",
    "PermissionDenied",
    "QueryTimeout",
    "Settings",
    "Spooled",
    "Tenant",
    "TenantInactive",
    "TenantMismatch",
    "Unavailable",
    "VersionConflict",
]
