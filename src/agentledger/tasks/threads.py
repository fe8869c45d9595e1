"""The sync worker's threads: runners for its handlers, their results' mailbox, its wake-up.

These are what the thread-based ``Worker`` needs beside the loop it shares in spirit with
``AsyncWorker``: handlers run on lazily started runner threads, report to the loop through
one mailbox, and an idle loop sleeps on a LISTEN connection (or plainly, when that fails).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Self

from agentledger.db.listen_sync import Listener
from agentledger.db.scoped_sync import Scoped
from agentledger.errors import Unavailable
from agentledger.tasks.books import WAIT_SLICE
from agentledger.tasks.records import Task

# A handler running this long blocks (on I/O, a lock, a sleep): more runners are started.
STALL = 0.001


class Runners:
    """Runner threads for a sync worker's handlers: at most ``limit``, started lazily.

    Submitted tasks wait in a deque. While handlers are quick, one runner works through it
    and one more stands by: several runners taking turns at quick handlers would only pass
    the GIL back and forth. The stand-by watches the queue; when no task has been taken for
    ``STALL`` seconds although tasks wait, the busy runners are blocked in their handlers, so
    it takes one itself, and from then on (until a handler finishes quickly again) every
    runner that takes a task wakes another while tasks wait, up to ``limit``.
    """

    def __init__(self, call: Callable[[Task], None], limit: int) -> None:
        self._call = call
        self._limit = limit
        self._waiting: collections.deque[Task] = collections.deque()
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # idle runners wait here for a wake-up
        self._watch = threading.Condition(lock)  # the stand-by waits here, STALL at a time
        self._threads = 0
        self._idle = 0
        self._busy = 0  # runners in a handler
        self._taken = 0  # tasks taken so far: the progress a stand-by watches
        self._waking = False  # a runner was woken (or started) and has not looked yet
        self._watching = False  # a runner stands by
        self._slow = False  # handlers block: fan out at once
        self._closed = False

    def submit(self, tasks: list[Task]) -> None:
        if not tasks:
            return
        with self._work:
            self._waiting.extend(tasks)
            self._help()

    def close(self) -> None:
        """Stop the runners once they finish their current handler (without waiting)."""
        with self._work:
            self._closed = True
            self._waiting.clear()
            self._work.notify_all()
            self._watch.notify_all()

    def _help(self) -> None:
        """Tasks wait (the lock is held): wake a runner to take one or, while a runner is
        busy with quick handlers and none stands by, to stand by."""
        if self._closed or not self._waiting or self._waking:
            return
        if self._busy and not self._slow and self._watching:
            return
        if self._idle:
            self._waking = True
            self._work.notify()
        elif self._threads < self._limit:
            self._threads += 1
            self._waking = True
            threading.Thread(
                target=self._run, name=f"agentledger-worker-{self._threads}", daemon=True
            ).start()

    def _run(self) -> None:
        slow: bool | None = None  # how the last handler went (None: this runner just woke)
        waiting, call, clock = self._waiting, self._call, time.monotonic
        while True:
            with self._work:
                task = self._take(slow)
            if task is None:
                return
            # While handlers are quick, take the next task without the lock (a deque's pops
            # are atomic); the count of tasks taken is only ever compared for a change.
            while True:
                started = clock()
                call(task)
                slow = clock() - started > STALL
                if slow or not waiting:
                    break
                try:
                    task = waiting.popleft()
                except IndexError:
                    break
                self._taken += 1

    def _take(self, slow: bool | None) -> Task | None:
        """The next task for this runner, after waiting or standing by as needed (the lock
        is held); None once closed."""
        if slow is None:
            self._waking = False
        else:
            self._busy -= 1
            self._slow = slow
        working = slow is not None  # it just finished a handler: it carries on
        watching = stalled = False
        while True:
            if self._closed:
                self._threads -= 1
                return None
            waiting = bool(self._waiting)
            if waiting and (working or stalled or self._slow or not self._busy):
                break
            if waiting and (watching or not self._watching):
                # Stand by: if no task is taken meanwhile, the busy runners are blocked.
                watching = self._watching = True
                mark = self._taken
                self._watch.wait(STALL)
                stalled = self._taken == mark
            else:
                if watching:
                    watching = self._watching = False
                self._idle += 1
                self._work.wait()
                self._idle -= 1
                self._waking = False
            working = False
        if watching:
            self._watching = False
        if stalled:
            self._slow = True
        task = self._waiting.popleft()
        self._taken += 1
        self._busy += 1
        if self._waiting:
            self._help()
        return task


class Finished:
    """Handler results on their way to the sync worker's loop. The loop says how many it
    waits for and is woken once they are in, not once per handler: each wake-up is a
    thread switch, dearer than a quick handler."""

    def __init__(self) -> None:
        self._items: list[tuple[Task, object, BaseException | None]] = []
        self._ready = threading.Condition(threading.Lock())
        self._want = 0  # how many results the loop waits for (0: it is not waiting)

    def put(self, item: tuple[Task, object, BaseException | None]) -> None:
        with self._ready:
            self._items.append(item)
            if 0 < self._want <= len(self._items):
                self._want = 0
                self._ready.notify()

    def take(
        self, want: int = 0, timeout: float | None = None
    ) -> list[tuple[Task, object, BaseException | None]]:
        """Every result in so far, after waiting up to ``timeout`` seconds for ``want``."""
        with self._ready:
            if timeout and len(self._items) < want:
                self._want = want
                self._ready.wait(timeout)
                self._want = 0
            items, self._items = self._items, []
        return items


class Wake(Scoped):
    """The sync worker's wake-up: a LISTEN connection, or plain sleeping when it fails.

    ``listening`` is set while the LISTEN connection is open (a notification sent from then
    on wakes the worker), and cleared when it is lost.
    """

    def __init__(
        self,
        listener: Callable[[], Listener],
        stopping: threading.Event,
        listening: threading.Event,
    ) -> None:
        self._new_listener = listener
        self._stopping = stopping
        self._listening = listening
        self._listener: Listener | None = None

    def open(self) -> Self:
        try:
            self._listener = self._new_listener().open()
        except Unavailable:
            self._listener = None
        else:
            self._listening.set()
        return self

    def close(self) -> None:
        self._listening.clear()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None

    def wait(self, timeout: float) -> None:
        """Until a notification, ``stop()``, or ``timeout`` seconds."""
        if self._listener is None:
            self._stopping.wait(timeout)
            self.open()
            return
        deadline = time.monotonic() + timeout
        try:
            while not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or self._listener.wait(min(WAIT_SLICE, left)):
                    return
        except Unavailable:
            self.close()
