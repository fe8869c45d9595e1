"""Server-sent event streams: how many each API key holds open on this process, and what
ends one.

A stream holds no connection of the database's (its wake-ups share one, see
db/wakeups.py), but each one reads its tenant's log or alerts whenever the tenant writes,
through the process's pool: a key holding thousands open would make every tenant's
requests wait for a pooled connection. Past ``max_streams_per_key`` a key's next stream is
answered 429; closing one makes room.

A stream never ends by itself, and a server waits for its responses to end before it
stops: :meth:`OpenStreams.close_all` ends them all when the server begins to stop
(api/server.py), and their clients reconnect with ``Last-Event-ID``. A stream also ends
once the key that opened it no longer works (revoked, or its tenant archived), within
``RECHECK_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import HTTPException
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from agentledger.errors import LedgerError
from agentledger.web.auth import CACHE_SECONDS

log = logging.getLogger(__name__)

# Each event to the client as it is sent: no cache keeps a stream, and a proxy that buffers
# answers (nginx) passes this one through as it comes.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# How often an open stream asks whether its key still works (keys are cached as long).
RECHECK_SECONDS = CACHE_SECONDS
AHEAD = 64  # chunks a stream's body may run ahead of its client
# When a refused stream may be asked for again (a key's other streams may close any moment;
# a stopping server's clients go to another process, or to this one once it is back).
RETRY_SECONDS = 1


class OpenStreams:
    """The streams each key holds open now, and the most it may."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self.closing = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def hold(self, key_id: str) -> Held:
        """Room for one more stream of ``key_id``; 429 (with Retry-After) when it holds the
        most it may, 503 once the server is stopping."""
        if self.closing.is_set():
            raise HTTPException(
                503,
                "this server is stopping; reconnect",
                headers={"Retry-After": str(RETRY_SECONDS)},
            )
        self._loop = asyncio.get_running_loop()
        if self._open.get(key_id, 0) >= self.limit:
            raise HTTPException(
                429,
                f"this key holds {self.limit} streams open, the most it may on this server; "
                "close one first",
                headers={"Retry-After": str(RETRY_SECONDS)},
            )
        self._open[key_id] = self._open.get(key_id, 0) + 1
        return Held(self, key_id)

    def close_all(self) -> None:
        """End every open stream, and refuse new ones: the server is stopping. Safe to call
        from a signal handler or another thread."""
        if self._loop is None or self._loop.is_closed():
            self.closing.set()
        else:
            self._loop.call_soon_threadsafe(self.closing.set)

    def holding(self, key_id: str) -> int:
        return self._open.get(key_id, 0)

    def total(self) -> int:
        """The streams open on this process, every key's."""
        return sum(self._open.values())

    def _release(self, key_id: str) -> None:
        left = self._open.get(key_id, 0) - 1
        if left > 0:
            self._open[key_id] = left
        else:
            self._open.pop(key_id, None)


class Held:
    """One stream's room: released once, however its response ends (finished, failed, or
    cancelled by a client that left before it began)."""

    def __init__(self, streams: OpenStreams, key_id: str) -> None:
        self._streams = streams
        self._key_id = key_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._streams._release(self._key_id)


def event_stream(
    streams: OpenStreams,
    key_id: str,
    body: AsyncIterator[str],
    *,
    allowed: Callable[[], Awaitable[bool]],
) -> StreamingResponse:
    """``body`` as a ``text/event-stream`` answer, holding one of ``key_id``'s streams until
    it ends (429 when the key holds the most it may). ``allowed`` is asked again every
    ``RECHECK_SECONDS`` while it lasts: a key revoked since (or its tenant archived) ends it,
    as it ends the key's other requests."""
    held = streams.hold(key_id)

    async def released() -> AsyncIterator[str]:
        try:
            async for chunk in until(streams.closing, body, allowed):
                yield chunk
        except LedgerError as exc:
            # Past its first line an answer's status cannot change: the stream ends, and the
            # client's reconnect is answered with the error (its tenant archived: 403; the
            # database down: 503).
            log.info("an event stream of key %s ended: %s", key_id, exc)
        finally:
            held.release()

    return StreamingResponse(
        released(),
        media_type="text/event-stream",
        headers=STREAM_HEADERS,
        background=BackgroundTask(held.release),
    )


async def until(
    stop: asyncio.Event, body: AsyncIterator[str], allowed: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """``body``'s chunks until it ends, ``stop`` is set or ``allowed`` (asked every
    ``RECHECK_SECONDS``) says no, even while it waits for its next one. ``body`` runs in a
    task of its own, a few chunks ahead of the reader, and is closed either way."""
    chunks: asyncio.Queue[str] = asyncio.Queue(maxsize=AHEAD)
    pump = asyncio.create_task(_pump(body, chunks))
    stopping = asyncio.ensure_future(stop.wait())
    due = time.monotonic() + RECHECK_SECONDS
    try:
        while not stopping.done():
            if time.monotonic() >= due:
                due = time.monotonic() + RECHECK_SECONDS
                if not await allowed():
                    return
            try:
                chunk = chunks.get_nowait()
            except asyncio.QueueEmpty:
                if pump.done():
                    await pump  # the body's error, if it failed
                    return
                getting = asyncio.ensure_future(chunks.get())
                await asyncio.wait(
                    (getting, stopping, pump),
                    timeout=max(0.0, due - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not getting.done():
                    getting.cancel()
                    continue
                chunk = getting.result()
            yield chunk
    finally:
        stopping.cancel()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def _pump(body: AsyncIterator[str], chunks: asyncio.Queue[str]) -> None:
    """Move ``body``'s chunks to ``chunks`` as room allows; close it however this ends."""
    try:
        async for chunk in body:
            await chunks.put(chunk)
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
