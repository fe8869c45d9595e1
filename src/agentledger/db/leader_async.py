"""Leader election: a named PostgreSQL session-level advisory lock on its own connection."""

from __future__ import annotations

from psycopg import AsyncConnection

from agentledger.config import Settings
from agentledger.db.binding import QUERIES
from agentledger.db.connect import session_conninfo, session_kwargs
from agentledger.db.scoped_async import AsyncScoped
from agentledger.db.translate import is_driver_error, translate
from agentledger.errors import ConfigError


class AsyncLeaderLock(AsyncScoped):
    """``async with db.leader_lock("relay/default") as lock:`` then ``await lock.acquire()``.

    At most one session in the database holds a name at a time. The lock lives as long as
    its connection: when the holder's process dies or its connection breaks, PostgreSQL
    releases it and another candidate's ``acquire`` succeeds. A holder checks ``held()``
    before each piece of work, so a leader that lost its connection stops.
    """

    def __init__(self, settings: Settings, url: str, name: str) -> None:
        conninfo = session_conninfo(settings, url)
        if conninfo is None:
            raise ConfigError(
                "a leader lock needs a session of its own, which a transaction-mode pooler "
                "does not give: set AGENTLEDGER_SESSION_URL to a direct connection",
                field="session_url",
            )
        self._conninfo = conninfo
        self._kwargs = session_kwargs(settings)
        self.name = name
        self._conn: AsyncConnection[tuple[object, ...]] | None = None

    async def acquire(self) -> bool:
        """True when this session holds the lock (now or already); False when another does.
        Raises Unavailable when the database cannot be reached."""
        try:
            if self._conn is not None and await self._holds(self._conn):
                return True
            await self.release()
            conn = await AsyncConnection.connect(self._conninfo, **self._kwargs)
            cur = await conn.execute(QUERIES.try_leader_lock.sql, {"name": self.name})
            row = await cur.fetchone()
            if row is not None and row[0] is True:
                self._conn = conn
                return True
            await conn.close()
            return False
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            await self.release()
            raise translate(exc) from exc

    async def held(self) -> bool:
        """True while the lock's connection is alive and holds it."""
        if self._conn is None:
            return False
        try:
            if await self._holds(self._conn):
                return True
        except Exception as exc:
            if not is_driver_error(exc):
                raise
        await self.release()
        return False

    async def release(self) -> None:
        """Give the lock back and close its connection: a standby may take it at once."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                try:
                    await conn.execute(QUERIES.leader_unlock.sql, {"name": self.name})
                finally:
                    await conn.close()
            except Exception as exc:  # a broken connection: the lock is gone either way
                if not is_driver_error(exc):
                    raise

    close = release

    async def _holds(self, conn: AsyncConnection[tuple[object, ...]]) -> bool:
        cur = await conn.execute(QUERIES.leader_lock_held.sql, {"name": self.name})
        row = await cur.fetchone()
        return row is not None and row[0] is True
