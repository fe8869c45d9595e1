"""LangGraph's long-term memory store on agentledger memory: ``AgentLedgerStore`` over a
``Ledger`` tenant, ``AsyncAgentLedgerStore`` over an ``AsyncLedger`` tenant."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Iterable, Sequence

from langgraph.store.base import BaseStore, Op, Result, TTLConfig

from agentledger import validation as v
from agentledger.integrations.langgraph.bridge import LoopBridge
from agentledger.integrations.langgraph.items import DEFAULT_KIND
from agentledger.integrations.langgraph.store_async import AsyncStoreCore
from agentledger.integrations.langgraph.store_sync import StoreCore
from agentledger.ledger_async import AsyncTenantScope
from agentledger.ledger_sync import TenantScope
from agentledger.memory.embedder import Embedder

logger = logging.getLogger(__name__)
# Minutes between sweeps when neither the call nor the TTL config says (as LangGraph's).
DEFAULT_SWEEP_MINUTES = 5.0
MAX_SWEEP_MINUTES = 525_960.0  # a year; the timers refuse waits of about 300 years and more
# Entities a sweep deletes per transaction.
SWEEP_BATCH = 1000


def _interval(ttl: TTLConfig | None, minutes: float | None) -> float:
    """Seconds between sweeps: a positive number of minutes (InvalidInput naming
    ``sweep_interval_minutes`` otherwise)."""
    chosen = minutes or (ttl or {}).get("sweep_interval_minutes") or DEFAULT_SWEEP_MINUTES
    return 60 * v.number("sweep_interval_minutes", chosen, low=0, high=MAX_SWEEP_MINUTES)


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
    stores without an index do. Filters compare numbers as numbers.

    TTL as LangGraph's ``PostgresStore``: ``ttl=TTLConfig(...)`` gives new items a
    ``default_ttl`` (minutes), a put's ``ttl`` its own; reads restart an item's TTL unless
    ``refresh_ttl=False`` (or ``refresh_on_read=False``). An item whose TTL has run out is
    gone from every read at once; ``sweep_ttl()`` deletes such items of the tenant, and
    ``start_ttl_sweeper()`` does so every ``sweep_interval_minutes`` in a thread.

    The async methods run the sync ones in a worker thread.
    """

    supports_ttl: bool = True

    def __init__(
        self,
        scope: TenantScope,
        *,
        embedder: Embedder | None = None,
        fields: Sequence[str] = ("$",),
        user: str | None = None,
        kind: str = DEFAULT_KIND,
        ttl: TTLConfig | None = None,
    ) -> None:
        self._core = StoreCore(scope, embedder=embedder, fields=fields, kind=kind, user=user)
        self._expiry = scope.expiry
        self.ttl_config = ttl
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._core.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self._core.batch, list(ops))

    def sweep_ttl(self) -> int:
        """Delete the tenant's items whose TTL has run out, a batch per transaction; how many."""
        return self._expiry.sweep(SWEEP_BATCH)

    def start_ttl_sweeper(
        self, sweep_interval_minutes: int | None = None
    ) -> concurrent.futures.Future[None]:
        """Sweep every ``sweep_interval_minutes`` (else the TTL config's, else 5) in a daemon
        thread until ``stop_ttl_sweeper()`` or the returned future is cancelled. Without a
        TTL config nothing starts (the future is already done), as in LangGraph's stores."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        if not self.ttl_config:
            future.set_result(None)
            return future
        future.add_done_callback(lambda f: self._stop.set() if f.cancelled() else None)
        if self._sweeper is not None and self._sweeper.is_alive():
            return future
        self._stop.clear()
        interval = _interval(self.ttl_config, sweep_interval_minutes)

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    swept = self.sweep_ttl()
                    if swept:
                        logger.info("store swept %d expired items", swept)
                except Exception:  # a failed sweep is retried at the next interval
                    logger.exception("store TTL sweep failed")
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_result(None)

        self._sweeper = threading.Thread(target=loop, daemon=True, name="ttl-sweeper")
        self._sweeper.start()
        return future

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; False if it is still running after ``timeout`` seconds."""
        if self._sweeper is None or not self._sweeper.is_alive():
            return True
        self._stop.set()
        self._sweeper.join(timeout)
        if self._sweeper.is_alive():
            return False
        self._sweeper = None
        return True


class AsyncAgentLedgerStore(BaseStore):
    """``AgentLedgerStore`` over an ``AsyncLedger`` tenant. Its sync methods run on the event
    loop the store runs on, from other threads only (as LangGraph's ``AsyncPostgresStore``);
    ``sweep_ttl``, ``start_ttl_sweeper`` (an asyncio task) and ``stop_ttl_sweeper`` are
    coroutines, as there."""

    supports_ttl: bool = True

    def __init__(
        self,
        scope: AsyncTenantScope,
        *,
        embedder: Embedder | None = None,
        fields: Sequence[str] = ("$",),
        user: str | None = None,
        kind: str = DEFAULT_KIND,
        ttl: TTLConfig | None = None,
    ) -> None:
        self._core = AsyncStoreCore(scope, embedder=embedder, fields=fields, kind=kind, user=user)
        self._expiry = scope.expiry
        self.ttl_config = ttl
        self._bridge = LoopBridge(type(self).__name__)
        self._sweeper: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        self._bridge.enter()
        return await self._core.batch(ops)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        todo = list(ops)
        return self._bridge.run(lambda: self._core.batch(todo))

    async def sweep_ttl(self) -> int:
        """Delete the tenant's items whose TTL has run out, a batch per transaction; how many."""
        self._bridge.enter()
        return await self._expiry.sweep(SWEEP_BATCH)

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: int | None = None
    ) -> asyncio.Task[None]:
        """Sweep every ``sweep_interval_minutes`` (else the TTL config's, else 5) in a task on
        this loop until ``stop_ttl_sweeper()`` or the task is cancelled; without a TTL config
        the task does nothing."""
        if not self.ttl_config:
            return asyncio.create_task(asyncio.sleep(0))
        if self._sweeper is not None and not self._sweeper.done():
            return self._sweeper
        stop = self._stop = asyncio.Event()
        interval = _interval(self.ttl_config, sweep_interval_minutes)

        async def loop() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                    return
                try:
                    swept = await self.sweep_ttl()
                    if swept:
                        logger.info("store swept %d expired items", swept)
                except Exception:  # a failed sweep is retried at the next interval
                    logger.exception("store TTL sweep failed")

        self._sweeper = asyncio.create_task(loop(), name="ttl-sweeper")
        return self._sweeper

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper task; False if it is still running after ``timeout`` seconds."""
        if self._sweeper is None or self._sweeper.done() or self._stop is None:
            return True
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._sweeper), timeout=timeout)
        except TimeoutError:
            return False
        self._sweeper = None
        return True
