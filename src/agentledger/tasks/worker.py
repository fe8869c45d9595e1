"""Worker runtimes: claim batches, run handlers, settle outcomes, heartbeat, shut down cleanly.

The two loops (threads for ``Worker``, asyncio tasks for ``AsyncWorker``) are written per
face because their concurrency differs; everything they say to the database goes through
the task source's operations (claim, settle, heartbeat), written once.

A handler takes the claimed :class:`Task` and returns its output (a dict, or None). An
exception fails the task (it retries with backoff until its attempts are spent). On
``stop()`` or SIGTERM the worker claims nothing more, lets in-flight handlers finish within
``grace`` seconds, and releases the rest back to the queue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agentledger.errors import Unavailable
from agentledger.tasks.builders import builder
from agentledger.tasks.records import Outcome, Task
from agentledger.tasks.source_async import AsyncTaskSource
from agentledger.tasks.source_sync import TaskSource

Handler = Callable[[Task], "dict[str, Any] | None"]
AsyncHandler = Callable[[Task], Awaitable["dict[str, Any] | None"]]


@dataclass(kw_only=True, slots=True)
class WorkerStats:
    """What one ``run()`` did."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    released: int = 0
    refused: int = 0  # outcomes refused because the lease was lost to another worker


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerOptions:
    concurrency: int = 10
    lease: float = 60.0
    poll_interval: float = 1.0
    grace: float = 30.0
    retention: float | None = None  # prune tasks finished longer ago than this (seconds)
    worker_id: str = ""

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.lease <= 0 or self.poll_interval <= 0:
            raise ValueError("concurrency, lease and poll_interval must be positive")

    @property
    def heartbeat_every(self) -> float:
        return self.lease / 3

    def ident(self) -> str:
        return self.worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


PRUNE_EVERY = 60.0
# Idle waits on the LISTEN connection are cut into slices this long, so stop() is prompt.
WAIT_SLICE = 0.25
# After a handler finishes, while more than half the slots are busy, wait up to this long for
# the others before the next cycle: settling and claiming in batches, not one by one.
BATCH_WINDOW = 0.002
# A handler running this long blocks (on I/O, a lock, a sleep): more runners are started.
STALL = 0.001


def outcome_of(task: Task, result: object, exc: BaseException | None) -> Outcome:
    """The outcome of one handler call."""
    assert task.claim_token is not None
    if result is None and exc is None:  # the usual case first
        return _completed(task.id, task.claim_token, "complete", None, None, True)
    if exc is not None:
        error = f"{type(exc).__name__}: {exc}"[:20_000]
        return Outcome(id=task.id, token=task.claim_token, action="fail", error=error)
    if result is not None and not isinstance(result, dict):
        error = f"handler returned {type(result).__name__}, not a dict or None"
        return Outcome(id=task.id, token=task.claim_token, action="fail", error=error)
    return _completed(task.id, task.claim_token, "complete", result, None, True)


# Outcome's fields in order (id, token, action, output, error, retry): one per task done.
_completed = builder(Outcome)


def _count(stats: WorkerStats, done: list[tuple[str, Outcome]], refused: list[int]) -> None:
    lost = set(refused)
    stats.refused += len(lost)
    for _, o in done:
        if o.id in lost:
            continue
        if o.action == "complete":
            stats.completed += 1
        elif o.action == "fail":
            stats.failed += 1
        else:
            stats.released += 1


@contextlib.contextmanager
def _on_sigterm(stop: Callable[[], None]) -> Iterator[None]:
    """Route SIGTERM to ``stop`` while the worker runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class AsyncWorker:
    """Runs ``handler`` on tasks of ``queue`` with up to ``concurrency`` asyncio tasks."""

    def __init__(
        self, source: AsyncTaskSource, queue: str, handler: AsyncHandler, options: WorkerOptions
    ) -> None:
        self.source = source
        self.queue = queue
        self.handler = handler
        self.options = options
        self.id = options.ident()
        self.stats = WorkerStats()
        self._stopping = False
        self._wake: asyncio.Event | None = None

    def stop(self) -> None:
        """Ask the worker to finish: no new claims, in-flight work finishes or is released."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run(self, *, until_empty: bool = False) -> WorkerStats:
        """Work until ``stop()`` (or SIGTERM); with ``until_empty``, until no work is ready."""
        opts = self.options
        self._wake = wake = asyncio.Event()
        inflight: dict[int, tuple[Task, asyncio.Task[None]]] = {}
        done: list[tuple[str, Outcome]] = []

        async def call(task: Task) -> None:
            try:
                result = await self.handler(task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                done.append((task.tenant_id, outcome_of(task, None, exc)))
            else:
                done.append((task.tenant_id, outcome_of(task, result, None)))
            inflight.pop(task.id, None)
            wake.set()

        async def flush() -> None:
            await cycle(0)

        async def cycle(limit: int) -> list[Task]:
            """Settle what is done and claim up to ``limit`` tasks, in one round trip.

            Outcomes are kept until the database has taken them (they are safe to send
            again: an outcome already applied is refused, never applied twice)."""
            if not done and not limit:
                return []
            batch = done[:]
            result = await self.source.cycle(batch, self.queue, limit, opts.lease, self.id)
            del done[: len(batch)]
            _count(self.stats, batch, result.settled.refused)
            return result.claimed

        loop = asyncio.get_running_loop()
        with_signal = threading.current_thread() is threading.main_thread()
        if with_signal:
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        listen_task: asyncio.Task[None] | None = None
        next_beat = next_prune = time.monotonic()
        try:
            listen_task = asyncio.create_task(self._listen(wake))
            while not self._stopping:
                wake.clear()  # before looking: a wake-up during the work below is kept
                claimed: list[Task] = []
                try:
                    await asyncio.sleep(0)  # let finished handlers report first
                    now = time.monotonic()
                    if inflight and now >= next_beat:
                        await self.source.heartbeat([t for t, _ in inflight.values()], opts.lease)
                    if now >= next_beat:
                        next_beat = now + opts.heartbeat_every
                    if opts.retention is not None and now >= next_prune:
                        await self.source.prune(opts.retention)
                        next_prune = now + PRUNE_EVERY
                    free = opts.concurrency - len(inflight)
                    claimed = await cycle(free)
                    self.stats.claimed += len(claimed)
                    for task in claimed:
                        inflight[task.id] = (task, asyncio.create_task(call(task)))
                    if until_empty and not claimed and not inflight and not done:
                        break
                except Unavailable:
                    pass  # the database is away: keep in-flight work, retry after a pause
                if claimed and len(claimed) == free:
                    await asyncio.sleep(0)  # full batch: let handlers start, then settle
                    continue
                timeout = max(0.0, min(opts.poll_interval, next_beat - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
                deadline = time.monotonic() + BATCH_WINDOW
                while inflight and len(inflight) > opts.concurrency // 2:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), left)
            await self._drain(inflight, done, flush)
        finally:
            if listen_task is not None:
                self._stopping = True  # the listener finishes its current slice and exits
                try:
                    await asyncio.wait_for(listen_task, WAIT_SLICE * 8)
                except (TimeoutError, Exception):
                    listen_task.cancel()
            if with_signal:
                loop.remove_signal_handler(signal.SIGTERM)
            self._wake = None
        return self.stats

    async def _drain(
        self,
        inflight: dict[int, tuple[Task, asyncio.Task[None]]],
        done: list[tuple[str, Outcome]],
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        """Let in-flight handlers finish within the grace period; release the rest."""
        pending = [job for _, job in inflight.values()]
        if pending:
            await asyncio.wait(pending, timeout=self.options.grace)
        for task, job in list(inflight.values()):
            job.cancel()
            assert task.claim_token is not None
            done.append(
                (task.tenant_id, Outcome(id=task.id, token=task.claim_token, action="release"))
            )
        inflight.clear()
        await flush()

    async def _listen(self, wake: asyncio.Event) -> None:
        """Set ``wake`` on notifications; when listening fails, polling carries on alone."""
        while not self._stopping:
            try:
                async with self.source.listener() as listener:
                    while not self._stopping:
                        if await listener.wait(WAIT_SLICE):
                            wake.set()
            except Unavailable:
                await asyncio.sleep(self.options.poll_interval)


class Worker:
    """Runs ``handler`` on tasks of ``queue``, at most ``concurrency`` at a time.

    Handlers run on runner threads started only as the work needs them (up to
    ``concurrency``): quick handlers are run one after another by the few runners awake,
    while handlers that block make room for more.
    """

    def __init__(
        self, source: TaskSource, queue: str, handler: Handler, options: WorkerOptions
    ) -> None:
        self.source = source
        self.queue = queue
        self.handler = handler
        self.options = options
        self.id = options.ident()
        self.stats = WorkerStats()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the worker to finish: no new claims, in-flight work finishes or is released."""
        self._stopping.set()

    def run(self, *, until_empty: bool = False) -> WorkerStats:
        """Work until ``stop()`` (or SIGTERM); with ``until_empty``, until no work is ready."""
        opts = self.options
        finished = _Finished()
        inflight: dict[int, Task] = {}
        done: list[tuple[str, Outcome]] = []

        def call(task: Task) -> None:
            try:
                result = self.handler(task)
            except Exception as exc:
                finished.put((task, None, exc))
            else:
                finished.put((task, result, None))

        def collect(want: int = 0, timeout: float | None = None) -> None:
            for task, result, exc in finished.take(want, timeout):
                if inflight.pop(task.id, None) is not None:  # else released at shutdown
                    done.append((task.tenant_id, outcome_of(task, result, exc)))

        def cycle(limit: int) -> list[Task]:
            """Settle what is done and claim up to ``limit`` tasks, in one round trip.

            Outcomes are kept until the database has taken them (they are safe to send
            again: an outcome already applied is refused, never applied twice)."""
            if not done and not limit:
                return []
            batch = done[:]
            result = self.source.cycle(batch, self.queue, limit, opts.lease, self.id)
            del done[: len(batch)]
            _count(self.stats, batch, result.settled.refused)
            return result.claimed

        next_beat = next_prune = time.monotonic()
        runners = _Runners(call, opts.concurrency)
        with contextlib.ExitStack() as stack:
            # Handlers still running after the grace period were released: do not wait.
            stack.callback(runners.close)
            stack.enter_context(_on_sigterm(self.stop))
            wake = stack.enter_context(_SyncWake(self))
            while not self._stopping.is_set():
                claimed: list[Task] = []
                free = 0
                try:
                    collect()
                    now = time.monotonic()
                    if inflight and now >= next_beat:
                        self.source.heartbeat(list(inflight.values()), opts.lease)
                    if now >= next_beat:
                        next_beat = now + opts.heartbeat_every
                    if opts.retention is not None and now >= next_prune:
                        self.source.prune(opts.retention)
                        next_prune = now + PRUNE_EVERY
                    free = opts.concurrency - len(inflight)
                    claimed = cycle(free)
                    self.stats.claimed += len(claimed)
                    for task in claimed:
                        inflight[task.id] = task
                    runners.submit(claimed)
                    if until_empty and not claimed and not inflight and not done:
                        break
                except Unavailable:
                    pass  # the database is away: keep in-flight work, retry after a pause
                # Even after a full batch, wait for handlers to finish (below) rather than
                # cycle again at once: settling whatever few are done by then splits every
                # later batch in parts.
                timeout = max(0.001, min(opts.poll_interval, next_beat - time.monotonic()))
                if not inflight:
                    wake.wait(timeout)  # a notification, or the poll interval
                    continue
                before = len(inflight)
                if before > opts.concurrency // 2:
                    collect(before, BATCH_WINDOW)  # quick handlers: all of them, one wake-up
                if len(inflight) == before:
                    collect(1, timeout)  # a handler finishing frees a slot
                    if len(inflight) > opts.concurrency // 2:
                        collect(len(inflight), BATCH_WINDOW)  # the rest may be about to finish
            self._drain(inflight, done, collect, cycle)
        return self.stats

    def _drain(
        self,
        inflight: dict[int, Task],
        done: list[tuple[str, Outcome]],
        collect: Callable[[int, float], None],
        cycle: Callable[[int], object],
    ) -> None:
        """Let in-flight handlers finish within the grace period; release the rest."""
        deadline = time.monotonic() + self.options.grace
        while inflight and time.monotonic() < deadline:
            collect(len(inflight), min(0.1, max(0.001, deadline - time.monotonic())))
        for task in list(inflight.values()):
            # A thread cannot be interrupted: its late outcome is dropped (the task is
            # released here, and a settle with the old token would be refused anyway).
            assert task.claim_token is not None
            done.append(
                (task.tenant_id, Outcome(id=task.id, token=task.claim_token, action="release"))
            )
        inflight.clear()
        cycle(0)  # settle only


class _Runners:
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


class _Finished:
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


class _SyncWake:
    """The sync worker's wake-up: a LISTEN connection, or plain sleeping when it fails."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._listener: Any = None

    def __enter__(self) -> _SyncWake:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def _open(self) -> None:
        try:
            self._listener = self._worker.source.listener().__enter__()
        except Unavailable:
            self._listener = None

    def _close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.__exit__(None, None, None)
            self._listener = None

    def wait(self, timeout: float) -> None:
        """Until a notification, ``stop()``, or ``timeout`` seconds."""
        if self._listener is None:
            self._worker._stopping.wait(timeout)
            self._open()
            return
        deadline = time.monotonic() + timeout
        try:
            while not self._worker._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or self._listener.wait(min(WAIT_SLICE, left)):
                    return
        except Unavailable:
            self._close()
