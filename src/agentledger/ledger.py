"""The public entry points: ``Ledger`` (sync) and ``AsyncLedger`` (async), same method names."""

from agentledger.config import Settings
from agentledger.db.spool import Spool, SpoolStatus
from agentledger.ledger_async import (
    AsyncLedger,
    AsyncModules,
    AsyncTenantScope,
    AsyncTransaction,
    Health,
)
from agentledger.ledger_sync import Ledger, Modules, TenantScope, Transaction


def spool_status_of(settings: Settings) -> SpoolStatus:
    """The spool's state, read from its files: works while the database is down."""
    if settings.spool_dir is None:
        raise ValueError("no spool_dir configured")
    return Spool(settings.spool_dir).status()


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
    "spool_status_of",
]
