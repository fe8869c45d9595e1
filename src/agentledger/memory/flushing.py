"""When the access log's counts are written: a flush scheduled by the first read counted,
``interval`` seconds later (an asyncio task on the async face, a timer thread on the sync
face), or one asked for now, which replaces it; never two flushes at once."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

log = logging.getLogger("agentledger")
NAME = "agentledger-access-flush"


class AsyncFlusher:
    """Runs ``flush`` on the event loop, ``interval`` seconds after ``schedule``."""

    def __init__(self, flush: Callable[[], Awaitable[int]], interval: float) -> None:
        self._flush = flush
        self._interval = interval
        self._lock = asyncio.Lock()  # one flush at a time
        self._task: asyncio.Task[None] | None = None

    def schedule(self) -> None:
        """Flush once the interval has passed, unless a flush is scheduled already."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:  # none, or a gone loop's
            self._task = loop.create_task(self._later(), name=NAME)

    async def run(self) -> int:
        """Flush now (once a flush under way has ended), instead of the one scheduled."""
        task, self._task = self._task, None
        if task is not None and not task.get_loop().is_closed():
            task.cancel()
        async with self._lock:
            return await self._flush()

    async def _later(self) -> None:
        await asyncio.sleep(self._interval)
        if self._task is asyncio.current_task():
            self._task = None  # a read counted from now on schedules the next flush
        try:
            async with self._lock:
                await self._flush()
        except Exception:  # a flush reports what it could not write; anything else here
            log.exception("writing the access counts failed")


class Flusher:
    """Runs ``flush`` on a timer thread, ``interval`` seconds after ``schedule``."""

    def __init__(self, flush: Callable[[], int], interval: float) -> None:
        self._flush = flush
        self._interval = interval
        self._lock = threading.Lock()  # one flush at a time
        self._guard = threading.Lock()  # over _timer
        self._timer: threading.Timer | None = None

    def schedule(self) -> None:
        """Flush once the interval has passed, unless a flush is scheduled already."""
        with self._guard:
            if self._timer is None:
                # A daemon: an unclosed ledger does not keep the process alive for it.
                self._timer = threading.Timer(self._interval, self._later)
                self._timer.name, self._timer.daemon = NAME, True
                self._timer.start()

    def run(self) -> int:
        """Flush now (once a flush under way has ended), instead of the one scheduled."""
        with self._guard:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        with self._lock:
            return self._flush()

    def _later(self) -> None:
        with self._guard:
            if self._timer is not threading.current_thread():
                return  # replaced by a flush asked for meanwhile
            self._timer = None  # a read counted from now on schedules the next flush
        try:
            with self._lock:
                self._flush()
        except Exception:  # a flush reports what it could not write; anything else here
            log.exception("writing the access counts failed")
