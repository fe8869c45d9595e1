"""LangGraph's long-term memory store on agentledger memory: ``AgentLedgerStore`` over a
``Ledger`` tenant, ``AsyncAgentLedgerStore`` over an ``AsyncLedger`` tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from langgraph.store.base import BaseStore, Op, Result

from agentledger.integrations.langgraph.bridge import LoopBridge
from agentledger.integrations.langgraph.items import DEFAULT_KIND
from agentledger.integrations.langgraph.store_async import AsyncStoreCore
from agentledger.integrations.langgraph.store_sync import StoreCore
from agentledger.ledger_async import AsyncTenantScope
from agentledger.ledger_sync import TenantScope
from agentledger.memory.embedder import Embedder


class AgentLedgerStore(BaseStore):
    """A LangGraph ``BaseStore`` whose items are memory entities of one tenant.

    ``AgentLedgerStore(ledger.tenant("acme"))`` keeps the tenant's own items; with
    ``user="u1"`` the items are that user's, and the store reads only them. An item
    ``(namespace, key) -> value`` is the entity of kind ``kind`` with source
    ``"langgraph:" + ".".join(namespace)``, key ``key`` and attrs ``value`` (see
    ``items.py``); a put replaces the value whole. With an ``embedder`` (the memory
    module's, 384 dimensions) each put embeds the text at ``fields`` (``"$"``: the value as
    JSON; a put's ``index`` overrides them, ``index=False`` embeds nothing) and a search's
    ``query`` ranks by cosine similarity; without one, ``query`` is ignored, as LangGraph's
    stores without an index do. Filters compare numbers as numbers. No TTL.

    The async methods run the sync ones in a worker thread.
    """

    def __init__(
        self,
        scope: TenantScope,
        *,
        embedder: Embedder | None = None,
        fields: Sequence[str] = ("$",),
        user: str | None = None,
        kind: str = DEFAULT_KIND,
    ) -> None:
        self._core = StoreCore(scope.memory, embedder=embedder, fields=fields, kind=kind, user=user)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._core.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self._core.batch, list(ops))


class AsyncAgentLedgerStore(BaseStore):
    """``AgentLedgerStore`` over an ``AsyncLedger`` tenant. Its sync methods run on the event
    loop the store runs on, from other threads only (as LangGraph's ``AsyncPostgresStore``)."""

    def __init__(
        self,
        scope: AsyncTenantScope,
        *,
        embedder: Embedder | None = None,
        fields: Sequence[str] = ("$",),
        user: str | None = None,
        kind: str = DEFAULT_KIND,
    ) -> None:
        self._core = AsyncStoreCore(
            scope.memory, embedder=embedder, fields=fields, kind=kind, user=user
        )
        self._bridge = LoopBridge(type(self).__name__)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        self._bridge.enter()
        return await self._core.batch(ops)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        todo = list(ops)
        return self._bridge.run(lambda: self._core.batch(todo))
