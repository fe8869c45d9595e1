"""LISTEN/NOTIFY: wake-ups for idle readers and workers (the tables stay the truth)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Self

from psycopg import AsyncConnection, sql

from agentledger.config import Settings
from agentledger.db.connect import session_conninfo, session_kwargs
from agentledger.db.scoped_async import AsyncScoped
from agentledger.db.translate import is_driver_error, translate
from agentledger.errors import InvalidInput

_CHANNEL = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    channel: str
    payload: str


class AsyncListener(AsyncScoped):
    """A dedicated connection LISTENing on some channels.

    ``await listener.wait(timeout)`` returns the notifications that arrived (possibly none)
    within ``timeout`` seconds. Notifications can be lost across a reconnect: callers poll
    their tables as well and treat a notification only as a hint to look now. Through a
    transaction-mode pooler with no ``session_url`` there is no session to listen on: the
    listener opens no connection and ``wait`` only lets ``timeout`` pass, so its callers
    poll (``listening`` is False).
    """

    def __init__(self, settings: Settings, url: str, channels: tuple[str, ...]) -> None:
        for channel in channels:
            if not _CHANNEL.fullmatch(channel):
                raise InvalidInput(
                    f"channel {channel!r} is not a plain identifier", field="channel"
                )
        self._conninfo = session_conninfo(settings, url)
        self._kwargs = session_kwargs(settings)
        self.listening = self._conninfo is not None
        self.channels = channels
        self._conn: AsyncConnection[tuple[object, ...]] | None = None

    async def open(self) -> Self:
        if self._conninfo is None:
            return self
        try:
            self._conn = await AsyncConnection.connect(self._conninfo, **self._kwargs)
            for channel in self.channels:
                await self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise translate(exc) from exc
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def wait(self, timeout: float) -> list[Notification]:
        if not self.listening:
            await asyncio.sleep(timeout)
            return []
        if self._conn is None:
            raise RuntimeError("the listener is not open: use it as a context manager")
        received: list[Notification] = []
        try:
            async for note in self._conn.notifies(timeout=timeout, stop_after=1):
                received.append(Notification(channel=note.channel, payload=note.payload))
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise translate(exc) from exc
        return received
