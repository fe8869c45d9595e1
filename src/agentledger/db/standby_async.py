"""The standby: its pool of read connections, whether to stay away from it, and how far it
has replayed the primary's WAL.

What runs here is the database's decision (db/database_async.py); this holds the pool, the
time the standby counts as down until, and read-your-writes' bounded wait for its replay.
"""

from __future__ import annotations

import asyncio
import logging
import time

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from agentledger.config import Settings
from agentledger.db.binding import QUERIES
from agentledger.db.driver_async import execute

log = logging.getLogger("agentledger")
# The first pause while waiting for the standby's replay, doubled up to the last.
FIRST_POLL = 0.002
LAST_POLL = 0.05


class AsyncStandby:
    """A streaming standby (or several behind one multi-host URL) serving reads."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool[AsyncConnection[DictRow]]):
        self.settings = settings
        self.pool = pool
        self._down_until = 0.0
        # How far each server behind the URL was seen to have replayed: no need to ask again
        # for a write it already had.
        self._replayed: dict[tuple[str, int], int] = {}

    @property
    def usable(self) -> bool:
        """False for ``read_retry_interval`` after the standby failed."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        """The standby did not answer: reads go to the primary for a while."""
        if self.usable:
            log.warning(
                "the standby is unavailable, reads go to the primary for %ss: %s",
                self.settings.read_retry_interval,
                exc,
            )
        self._down_until = time.monotonic() + self.settings.read_retry_interval

    async def caught_up(self, conn: AsyncConnection[DictRow], lsn: int) -> bool:
        """True once the server behind ``conn`` has replayed the WAL up to ``lsn`` (a
        primary, which replays nothing, has it all); False when it has not within
        ``read_your_writes_wait``. Replay only moves forward, so a transaction begun on
        ``conn`` afterwards sees every write up to ``lsn``."""
        key = (conn.info.host, conn.info.port)
        if self._replayed.get(key, 0) >= lsn:
            return True
        deadline = time.monotonic() + self.settings.read_your_writes_wait
        pause = FIRST_POLL
        async with conn.cursor() as cur:
            while True:
                replayed = await execute(cur, QUERIES.wal_replay_lsn.scalar())
                if replayed is None:
                    return True
                self._replayed[key] = max(self._replayed.get(key, 0), replayed)
                if replayed >= lsn:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                await asyncio.sleep(min(pause, remaining))
                pause = min(pause * 2, LAST_POLL)
