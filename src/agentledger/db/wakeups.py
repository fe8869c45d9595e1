"""Wake-ups shared by a process's readers: one LISTEN connection per channel, however many
followers wait on it.

An event-log follower (a browser on the API's event stream, say) waits for a NOTIFY as a
hint to read now; it polls the log as well, so a wake-up lost to a reconnect only delays
it. A connection per follower would make the database's ``max_connections`` the limit on
how many can follow, and let a key holding that many streams open starve every tenant.
:class:`AsyncWakeups` keeps one connection per channel while anyone
subscribes to it and sets the flag of each subscriber of the notification's tenant (its
payload: the tenant id, or a JSON object with ``tenant_id``; every subscriber for any other
payload); the connection is reopened after a loss (every follower reads then, and polls
meanwhile) and closed with the last subscriber. The sync face's threads each keep their
own connection (:class:`Wakeups`): a thread per follower already bounds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Self

from agentledger.config import Settings
from agentledger.db.connect import session_conninfo
from agentledger.db.listen_async import AsyncListener, Notification
from agentledger.db.listen_sync import Listener
from agentledger.db.scoped_async import AsyncScoped
from agentledger.errors import LedgerError

log = logging.getLogger("agentledger.wakeups")
# How long the shared connection waits at a time, so that it notices its last subscriber
# leaving; and how long it waits before reopening after a loss.
SLICE_SECONDS = 1.0
RETRY_SECONDS = 1.0


class AsyncWakeups:
    """The shared LISTEN connections of one :class:`AsyncDatabase`."""

    def __init__(self, settings: Settings, url: str) -> None:
        self._settings = settings
        self._url = url
        self._channels: dict[str, _Channel] = {}
        # False through a transaction-mode pooler with no ``session_url``: no wake-ups
        # come, and subscribers only poll.
        self.listening = session_conninfo(settings, url) is not None

    def subscribe(self, channel: str, tenant: str | None = None) -> AsyncSubscription:
        """A subscriber's view of ``channel`` (open it, then ``wait``): woken by ``tenant``'s
        notifications only, or by every one when None."""
        shared = self._channels.get(channel)
        if shared is None:
            shared = self._channels[channel] = _Channel(
                self._settings, self._url, channel, listening=self.listening
            )
        return AsyncSubscription(shared, tenant)

    async def close(self) -> None:
        for shared in self._channels.values():
            await shared.stop()
        self._channels.clear()

    def connections(self) -> int:
        """How many shared connections are open now."""
        return sum(1 for c in self._channels.values() if c.listener is not None)


class AsyncSubscription(AsyncScoped):
    """One follower's wake-ups: ``wait`` returns as soon as a notification on the channel
    came since the last ``wait`` (or since ``open``), else after ``timeout`` with none.
    When ``listening`` is False none ever comes (see :attr:`AsyncWakeups.listening`)."""

    def __init__(self, shared: _Channel, tenant: str | None) -> None:
        self._shared = shared
        self.listening = shared.listening
        self._tenant = tenant
        self._flag = asyncio.Event()

    async def open(self) -> Self:
        await self._shared.join(self._flag, self._tenant)
        return self

    async def close(self) -> None:
        await self._shared.leave(self._flag)

    async def wait(self, timeout: float) -> list[Notification]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flag.wait(), timeout)
        if not self._flag.is_set():
            return []
        self._flag.clear()
        return [Notification(channel=self._shared.channel, payload="")]


class _Channel:
    """One channel's connection and its subscribers' flags."""

    def __init__(self, settings: Settings, url: str, channel: str, *, listening: bool) -> None:
        self._settings = settings
        self._url = url
        self.channel = channel
        self.listening = listening
        self._flags: dict[asyncio.Event, str | None] = {}  # each subscriber's tenant
        self._lock = asyncio.Lock()
        self.listener: AsyncListener | None = None
        self._pump: asyncio.Task[None] | None = None

    async def join(self, flag: asyncio.Event, tenant: str | None) -> None:
        """Add a subscriber; the first one opens the connection (and its errors reach it),
        so that it listens before its first read."""
        async with self._lock:
            if self.listening and (self._pump is None or self._pump.done()):
                self.listener = await self._listen()
                self._pump = asyncio.create_task(self._run(), name=f"wakeups-{self.channel}")
            self._flags[flag] = tenant

    async def leave(self, flag: asyncio.Event) -> None:
        async with self._lock:
            self._flags.pop(flag, None)

    async def stop(self) -> None:
        async with self._lock:
            self._flags.clear()
            if self._pump is not None:
                self._pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pump
                self._pump = None

    async def _listen(self) -> AsyncListener:
        return await AsyncListener(self._settings, self._url, (self.channel,)).open()

    async def _run(self) -> None:
        try:
            while True:
                async with self._lock:
                    if not self._flags:  # the last subscriber left: so does the connection
                        await self._drop()
                        self._pump = None
                        return
                try:
                    if self.listener is None:
                        self.listener = await self._listen()
                    woken = await self.listener.wait(SLICE_SECONDS)
                except LedgerError:
                    log.warning("lost the %s wake-up connection; reopening", self.channel)
                    await self._drop()
                    self._wake()  # every follower reads now, and polls until it is back
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                for note in woken:
                    self._wake(_tenant_of(note.payload))
        finally:
            await self._drop()

    def _wake(self, tenant: str | None = None) -> None:
        """Set the flags of ``tenant``'s subscribers (and of those of every tenant); of
        every subscriber when None."""
        for flag, theirs in self._flags.items():
            if tenant is None or theirs is None or theirs == tenant:
                flag.set()

    async def _drop(self) -> None:
        if self.listener is not None:
            listener, self.listener = self.listener, None
            with contextlib.suppress(LedgerError):
                await listener.close()


def _tenant_of(payload: str) -> str | None:
    """The tenant a notification is about: its payload, or the payload's ``tenant_id``
    when it is a JSON object; None when it names none."""
    if payload.startswith("{"):
        with contextlib.suppress(ValueError):
            found = json.loads(payload)
            if isinstance(found, dict) and isinstance(found.get("tenant_id"), str):
                return str(found["tenant_id"])
        return None
    return payload or None


# The sync face's subscription: a LISTEN connection of its own.
Subscription = Listener


class Wakeups:
    """The sync face's wake-ups: each subscriber (a thread) its own LISTEN connection."""

    def __init__(self, settings: Settings, url: str) -> None:
        self._settings = settings
        self._url = url

    def subscribe(self, channel: str, tenant: str | None = None) -> Listener:
        """A connection of its own on ``channel``: every tenant's notifications wake it."""
        return Listener(self._settings, self._url, (channel,))

    def close(self) -> None:
        """Nothing is shared: each subscriber closes its own connection."""
