"""The outbox relay: every committed event, in commit-safe order, to NATS JetStream.

For each tenant it relays, the relay reads the events after its checkpoint
(``events.read_all``, the order every follower gets), publishes them to
``<prefix>.<tenant>.<category>`` with the event id as ``Nats-Msg-Id``, and saves the
checkpoint (``events.save_checkpoint``, subscriber ``relay:<name>``) only after JetStream
acknowledged every message up to it. A relay killed between the ack and the checkpoint
publishes those events again; JetStream drops the repeats that arrive within the stream's
duplicate window, and consumers apply events idempotently by id for the rest.

Several relays of one name may run: each takes the PostgreSQL advisory lock named
``relay/<name>`` before publishing, so one publishes and the others wait to take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import PubAck
from nats.js.client import JetStreamContext

from agentledger import validation as v
from agentledger.db.binding import Binding
from agentledger.db.leader_async import AsyncLeaderLock
from agentledger.errors import ConfigError, LedgerError, Unavailable
from agentledger.events import ops as events
from agentledger.events.records import EVENTS_CHANNEL, Event
from agentledger.integrations.nats import lag as lag_ops, subjects
from agentledger.ledger_async import AsyncLedger

log = logging.getLogger("agentledger.relay")
DEFAULT_SERVERS = "nats://127.0.0.1:4222"
DEFAULT_STREAM = "AGENTLEDGER"
TENANT_PAGE = 1000
# What a broker that cannot be reached, refuses a message or answers too late raises.
BROKER_ERRORS = (nats.errors.Error, OSError, asyncio.TimeoutError)


class BrokerError(Exception):
    """JetStream did not acknowledge a message in time (or refused it)."""


@dataclass(kw_only=True, slots=True)
class RelayStats:
    """What one relay process did since it started."""

    published: int = 0
    duplicates: int = 0
    batches: int = 0
    broker_failures: int = 0
    leader: bool = False


class Relay:
    """Relays events to JetStream: ``await Relay(ledger, "nats://...").run(stop)``.

    ``tenants``: the tenants to relay (None: every tenant, listed through the platform scope
    at each pass); only active ones are relayed. ``types``: only events of these types
    (None: all). ``stream``: the JetStream stream, created with subjects ``<prefix>.>`` and
    ``duplicate_window`` seconds when it does not exist (an existing stream is used as it
    is, if its subjects take the relay's: else ConfigError). ``batch_size`` events are
    published per tenant and pass, pipelined over one connection, then acknowledged
    together.
    """

    def __init__(
        self,
        ledger: AsyncLedger,
        servers: str | Sequence[str] = DEFAULT_SERVERS,
        *,
        name: str = "default",
        tenants: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        prefix: str = subjects.DEFAULT_PREFIX,
        stream: str = DEFAULT_STREAM,
        duplicate_window: float = 120.0,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        ack_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retry_backoff: float = 0.2,
    ) -> None:
        self.ledger = ledger
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.name = v.text("name", name, max_len=100)
        self.tenants = (
            None if tenants is None else [Binding.to_tenant(t).tenant or "" for t in tenants]
        )
        self.types = events.event_types(types)
        self.prefix = subjects.check_prefix(prefix)
        self.stream = subjects.check_stream(stream)
        self.duplicate_window = v.number("duplicate_window", duplicate_window, low=1, high=86400)
        self.batch_size = v.integer("batch_size", batch_size, low=1, high=events.MAX_PAGE)
        self.poll_interval = v.number("poll_interval", poll_interval, low=0.001, high=3600)
        self.ack_timeout = v.number("ack_timeout", ack_timeout, low=0.01, high=3600)
        self.connect_timeout = v.number("connect_timeout", connect_timeout, low=0.01, high=3600)
        self.retry_backoff = v.number("retry_backoff", retry_backoff, low=0.001, high=60)
        self.stats = RelayStats()
        # Checkpoints as saved while this process leads (no other relay of the name writes
        # them then); forgotten whenever leadership is taken again.
        self._positions: dict[str, int] = {}
        self._leading: bool | None = None

    @property
    def subscriber(self) -> str:
        """The checkpoint's subscriber name in each tenant's ``event_checkpoints``."""
        return f"relay:{self.name}"

    async def run(self, stop: asyncio.Event | None = None, *, until_idle: bool = False) -> None:
        """Relay until ``stop`` is set (or, with ``until_idle``, until a pass finds nothing
        to publish). Waits while another relay of this name leads; survives outages of the
        broker and of PostgreSQL by retrying with backoff."""
        stop = stop or asyncio.Event()
        backoff = self.retry_backoff
        async with self.ledger.db.leader_lock(f"relay/{self.name}") as lock:
            while not stop.is_set():
                try:
                    if not await lock.acquire():
                        self._lead(False)
                        await _wait(stop, self.poll_interval)
                        continue
                    self._lead(True)
                    idle = await self._publish_while_leading(lock, stop, until_idle)
                    if idle:
                        return
                    backoff = self.retry_backoff
                except (BrokerError, *BROKER_ERRORS) as exc:
                    self.stats.broker_failures += 1
                    log.warning("relay %s: broker unavailable (%s); retrying", self.name, exc)
                    await _wait(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                except Unavailable as exc:
                    log.warning("relay %s: database unavailable (%s); retrying", self.name, exc)
                    await _wait(stop, backoff)
                    backoff = min(backoff * 2, 5.0)

    async def lag(self) -> dict[str, int]:
        """Per tenant, how many committed events this relay has still to publish."""
        found = {}
        for tenant in await self._tenant_ids():
            binding = Binding.to_tenant(tenant)
            position = await self.ledger.db.run(events.checkpoint(self.subscriber), binding)
            found[tenant] = await self.ledger.db.run(lag_ops.lag(position, self.types), binding)
        return found

    def _lead(self, leading: bool) -> None:
        """Note (and log, when it changes, the first time included) whether this leads."""
        if leading != self._leading:
            log.info("relay %s: %s", self.name, "leading" if leading else "standing by")
        self._leading = self.stats.leader = leading

    async def _publish_while_leading(
        self,
        lock: AsyncLeaderLock,
        stop: asyncio.Event,
        until_idle: bool,
    ) -> bool:
        """Connect to the broker and relay while this process holds the lock. True when
        ``until_idle`` and nothing was left to publish."""
        nc = await nats.connect(
            servers=self.servers,
            allow_reconnect=False,
            connect_timeout=self.connect_timeout,
            max_reconnect_attempts=1,  # with allow_reconnect off: try each server once
            reconnect_time_wait=0,
            error_cb=_broker_error,
        )
        self._positions.clear()
        try:
            js = nc.jetstream(timeout=self.ack_timeout)
            await self._ensure_stream(js)
            async with self.ledger.db.listener(EVENTS_CHANNEL) as wake:
                while not stop.is_set():
                    if not await lock.held():
                        self._lead(False)
                        return False
                    published = 0
                    for tenant in await self._tenant_ids():
                        published += await self._relay_tenant(js, tenant)
                    if published:
                        continue
                    if until_idle:
                        return True
                    await wake.wait(self.poll_interval)
        finally:
            await _close(nc)
        return False

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the stream, or make sure the one there takes the relay's subjects: else
        every publish would be refused, and retried for ever as if the broker were down."""
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                name=self.stream,
                subjects=[f"{self.prefix}.>"],
                duplicate_window=self.duplicate_window,
            )
            return
        patterns = info.config.subjects or []
        if not subjects.captures(patterns, self.prefix):
            raise ConfigError(
                f"stream {self.stream!r} takes subjects {patterns}, not the relay's "
                f"{self.prefix}.<tenant>.<category>: give another stream, or the prefix "
                "its subjects begin with",
                field="stream",
            )

    async def _tenant_ids(self) -> list[str]:
        """The active tenants among those relayed. A suspended tenant cannot save a
        checkpoint and an archived one cannot be read: their events wait until the tenant
        is active again."""
        found: list[str] = []
        after = ""
        while True:
            page = await self.ledger.tenants.list(status="active", after=after, limit=TENANT_PAGE)
            found.extend(t.id for t in page)
            if len(page) < TENANT_PAGE:
                break
            after = page[-1].id
        if self.tenants is None:
            return found
        active = set(found)
        return [t for t in self.tenants if t in active]

    async def _relay_tenant(self, js: JetStreamContext, tenant: str) -> int:
        """Publish one batch of ``tenant``'s events; the checkpoint advances over the
        acknowledged prefix. Raises BrokerError when a message was not acknowledged."""
        binding = Binding.to_tenant(tenant)
        db = self.ledger.db
        position = self._positions.get(tenant)
        if position is None:
            position = await db.run(events.checkpoint(self.subscriber), binding)
            self._positions[tenant] = position
        batch = await db.run(
            events.read_all(position, types=self.types, limit=self.batch_size), binding
        )
        if not batch:
            return 0
        acked, failure = await self._publish(js, tenant, batch)
        if acked:
            last = batch[acked - 1].position
            await db.run(events.save_checkpoint(self.subscriber, last), binding)
            self._positions[tenant] = last
            self.stats.published += acked
            self.stats.batches += 1
        if failure is not None:
            raise BrokerError(f"event {batch[acked].event_id} of {tenant}: {failure}")
        return acked

    async def _publish(
        self, js: JetStreamContext, tenant: str, batch: list[Event]
    ) -> tuple[int, BaseException | None]:
        """Publish ``batch`` in order; how many of its first messages were acknowledged,
        and why the next one was not. One connection delivers messages in the order they
        were sent, so what JetStream stored is a prefix of the batch."""
        futures: list[asyncio.Future[PubAck]] = []
        try:
            # No wait_stall: waiting for a free slot through wait_for would yield to the
            # client's flusher after every message (one write each); the batch's deadline
            # bounds the wait instead.
            async with asyncio.timeout(self.ack_timeout):
                for event in batch:
                    futures.append(
                        await js.publish_async(
                            subjects.subject(tenant, event.stream, self.prefix),
                            subjects.body(tenant, event),
                            stream=self.stream,
                            headers=subjects.headers(tenant, event),
                        )
                    )
        except BROKER_ERRORS as exc:
            failure: BaseException | None = exc
        else:
            failure = None
        if futures:
            await asyncio.wait(futures, timeout=self.ack_timeout)
        acked = 0
        for future in futures:
            if not future.done():
                failure = failure or BrokerError(f"no acknowledgement in {self.ack_timeout}s")
                break
            if future.cancelled():  # its exception() would raise CancelledError
                failure = failure or BrokerError("publish cancelled")
                break
            if future.exception() is not None:
                failure = failure or future.exception()
                break
            if future.result().duplicate:
                self.stats.duplicates += 1
            acked += 1
        for future in futures[acked:]:
            future.cancel()
        if failure is None and acked < len(batch):
            failure = BrokerError("the connection closed before every message was sent")
        return acked, failure


async def _broker_error(exc: Exception) -> None:
    """The client's own error reports: the relay handles the failures they cause."""
    log.debug("relay: broker error: %s", exc)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _close(nc: Client) -> None:
    try:
        await nc.close()
    except (*BROKER_ERRORS, LedgerError):  # closing a broken connection
        pass
