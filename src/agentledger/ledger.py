"""The public entry points: ``Ledger`` (sync) and ``AsyncLedger`` (async), same method names."""

from agentledger.ledger_async import (
    AsyncLedger,
    AsyncModules,
    AsyncTenantScope,
    AsyncTransaction,
    Health,
)
from agentledger.ledger_sync import Ledger, Modules, TenantScope, Transaction

__all__ = [
    "AsyncLedger",
    "AsyncModules",
    "AsyncTenantScope",
    "AsyncTransaction",
    "Health",
    "Ledger",
    "Modules",
    "TenantScope",
    "Transaction",
]
