"""What a repository is given (dependency injection, no global database object): the
open ledger, where each call is its own transaction, or one tenant's open transaction,
where the calls of several repositories commit together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agentledger import AsyncLedger, InvalidInput
from agentledger.ledger import AsyncModules, AsyncTransaction

Session = AsyncLedger | AsyncTransaction


def bound(session: Session, tenant_id: str) -> AsyncModules:
    """The modules of ``tenant_id``: every call of every repository names its tenant."""
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise InvalidInput("tenant_id is required", field="tenant_id")
    if isinstance(session, AsyncTransaction):
        if session.tenant_id != tenant_id:
            raise InvalidInput(
                f"this transaction is bound to tenant {session.tenant_id!r}, not {tenant_id!r}",
                field="tenant_id",
            )
        return session
    return session.tenant(tenant_id)


def ledger_of(session: Session, what: str) -> AsyncLedger:
    """The ledger itself, for the platform's acts (tenants, global packs and tools)."""
    if not isinstance(session, AsyncLedger):
        raise InvalidInput(f"{what} is a platform act: give the repository the ledger")
    return session


@asynccontextmanager
async def unit_of_work(ledger: AsyncLedger, tenant_id: str) -> AsyncIterator[AsyncTransaction]:
    """``async with unit_of_work(ledger, tenant) as tx:`` then ``ExceptionRepository(tx)``
    and ``ExceptionEventRepository(tx)``: the seed's "load, append event, update state"
    (§6.1) as one transaction; an exception leaves nothing of it."""
    bound(ledger, tenant_id)
    async with ledger.tenant(tenant_id).transaction() as tx:
        yield tx
