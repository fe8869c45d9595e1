"""Wake listeners after commits, from a thread of the database's own.

A write marked ``-- notifies: <channel>`` (an append wakes the event log's followers) has
the channel's listeners woken once its transaction committed, with the tenant id as
payload. The NOTIFY cannot run inside the write's transaction: PostgreSQL holds its
notification lock from a notifying commit's start until its WAL flush, so concurrent
writers would commit one at a time. Sent from the writer's connection after its COMMIT, it
would cost every write three more statements (BEGIN, COMMIT, the NOTIFY); here the writer
only records the wake-up and returns.

The waker's thread sends everything recorded in one statement, on a connection of its own,
in a transaction whose commit waits for no flush. Wake-ups recorded while one is on its way
go out together next. A wake-up is sent only after the write it follows committed, so a
woken listener finds that write. One lost (the server unreachable, the process ended
before :meth:`Waker.close`) costs a listener at most its poll interval; the write stands.
Both faces use it: recording a wake-up never blocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from typing import Any

import psycopg

from agentledger.config import Settings
from agentledger.db.binding import QUERIES
from agentledger.db.connect import app_conninfo, connection_kwargs

log = logging.getLogger("agentledger")
WAKE = QUERIES.wake


# The least time (seconds) between two of the waker's statements. Wake-ups recorded
# meanwhile go out together: a listener hears of a write at most this much later, and a busy
# writer's wake-ups cost a fraction of a statement each.
INTERVAL = 0.01


class Waker:
    """Records wake-ups (a channel and a tenant) and sends them from its thread, started
    with the first one."""

    def __init__(self, settings: Settings, url: str) -> None:
        self._conninfo = app_conninfo(settings, url)
        self._kwargs = {**connection_kwargs(settings), "application_name": "agentledger-waker"}
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # for the thread: something to send, or close
        self._done = threading.Condition(lock)  # for flush: a batch went out
        self._pending: dict[tuple[str, str], None] = {}  # in the order recorded
        self._recorded = 0  # wake-ups recorded so far (a repeat of a pending one counts)
        self._handled = 0  # of those, sent or given up
        # The thread waits for something to send: only then does wake() notify it (in its
        # interval wait a notify would wake it for nothing, once per write).
        self._idle = False
        self._thread: threading.Thread | None = None
        self._closing = False
        self._conn: psycopg.Connection[Any] | None = None

    def wake(self, tenant: str | None, channels: Collection[str]) -> None:
        """Wake ``channels``' listeners with ``tenant`` as payload (nothing for the platform)."""
        if tenant is None or not channels:
            return
        with self._work:
            if self._closing:
                log.warning("waking listeners of %s after close: dropped", sorted(channels))
                return
            for channel in channels:
                self._pending[(channel, tenant)] = None
            self._recorded += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="agentledger-waker", daemon=True
                )
                self._thread.start()
            elif self._idle:
                self._work.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every wake-up recorded so far was sent (or given up, and logged);
        False if ``timeout`` passed first."""
        with self._done:
            target = self._recorded
            return self._done.wait_for(lambda: self._handled >= target, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is recorded, then stop the thread and close its connection."""
        with self._work:
            self._closing = True
            self._work.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the waker did not finish within %.0f s", timeout)

    def _run(self) -> None:
        sent = 0.0  # when the last statement went out
        while True:
            with self._work:
                self._idle = True
                self._work.wait_for(lambda: bool(self._pending) or self._closing)
                self._idle = False
                if not self._pending:
                    break
                # Closing cuts the wait short (wake() does not: its wake-up joins this batch).
                self._work.wait_for(lambda: self._closing, sent + INTERVAL - time.monotonic())
                batch, self._pending = list(self._pending), {}
                upto = self._recorded
            self._send(batch)
            sent = time.monotonic()
            with self._done:
                self._handled = upto
                self._done.notify_all()
        if self._conn is not None:
            self._conn.close()

    def _send(self, batch: list[tuple[str, str]]) -> None:
        """One statement for the whole batch; on a lost connection, one more try on a new
        one (the server may have restarted since the last batch)."""
        params = {"channels": [c for c, _ in batch], "tenants": [t for _, t in batch]}
        for attempt in (1, 2):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self._conninfo, **self._kwargs)
                self._conn.execute(WAKE.sql, params)
                return
            except psycopg.Error as exc:
                broken = self._conn is None or self._conn.closed or self._conn.broken
                if broken and attempt == 1:
                    continue
                log.warning("waking listeners failed: %s", exc)
                return
            except Exception:  # the thread outlives any failure: later writes wake as ever
                log.exception("waking listeners failed")
                return
