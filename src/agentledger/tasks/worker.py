"""Worker runtimes: claim batches, run handlers, settle outcomes, heartbeat, shut down cleanly.

The two loops (threads for ``Worker``, asyncio tasks for ``AsyncWorker``) are written per
face because their concurrency differs; their bookkeeping (``Books``) is shared, and
everything they say to the database goes through the task source (turn, upkeep), written
once.

A handler takes the claimed :class:`Task` and returns its output (a dict, or None). An
exception fails the task (it retries with backoff until its attempts are spent), and so does
an output that is not a JSON object PostgreSQL stores: that task alone, the rest of its batch
is settled as usual. On ``stop()`` or SIGTERM the worker claims nothing more, lets in-flight
handlers finish within ``grace`` seconds, and releases the rest back to the queue. A
handler raising a BaseException that is not an Exception (SystemExit, KeyboardInterrupt)
fails its task too and stops the worker that way; ``run()`` then raises it again.

A transactional worker calls ``handler(task, tx)`` inside a transaction bound to the task's
tenant, and completes the task in that same transaction (see ``tasks/completion.py``): its
writes through ``tx`` and the completion commit together, once. An exception rolls them
back and fails the task as usual; a lease lost meanwhile rolls them back and settles nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

from agentledger.db.database_async import AsyncSession
from agentledger.db.database_sync import Session
from agentledger.errors import InvalidInput, LeaseLost, Unavailable
from agentledger.tasks.batch import queue_name
from agentledger.tasks.books import WAIT_SLICE, Books, Claim, WorkerOptions, WorkerStats, claim_of
from agentledger.tasks.builders import builder
from agentledger.tasks.completion import UnstorableOutput, output_of
from agentledger.tasks.records import Outcome, Task
from agentledger.tasks.source_async import AsyncTaskSource
from agentledger.tasks.source_sync import TaskSource
from agentledger.tasks.threads import Finished, Runners, Wake

Handler = Callable[[Task], "dict[str, Any] | None"]
AsyncHandler = Callable[[Task], Awaitable["dict[str, Any] | None"]]
# The second argument is the transaction scope (the ledger's Transaction / AsyncTransaction).
TransactionalHandler = Callable[[Task, Any], "dict[str, Any] | None"]
AsyncTransactionalHandler = Callable[[Task, Any], Awaitable["dict[str, Any] | None"]]

# After a handler finishes, while more than half the slots are busy, wait up to this long for
# the others before the next cycle: settling and claiming in batches, not one by one.
BATCH_WINDOW = 0.002


def outcome_of(task: Task, result: object, exc: BaseException | None) -> Outcome:
    """The outcome of one handler call. One that cannot be stored (an output that is not a
    JSON object PostgreSQL takes) fails this task alone, saying why; it never reaches the
    statement that settles the whole batch."""
    assert task.claim_token is not None
    if result is None and exc is None:  # the usual case first
        return _completed(task.id, task.claim_token, "complete", None, None, True)
    if isinstance(exc, UnstorableOutput):  # a transactional handler's, from output_of
        return _failed(task, str(exc))
    if exc is not None:
        return _failed(task, f"{type(exc).__name__}: {_said(exc)}")
    try:
        output = output_of(result)
    except UnstorableOutput as bad:
        return _failed(task, str(bad))
    return _completed(task.id, task.claim_token, "complete", output, None, True)


def _failed(task: Task, error: str) -> Outcome:
    """A failed outcome whose error is text PostgreSQL stores (no NUL, no lone surrogate)."""
    assert task.claim_token is not None
    if "\x00" in error or not error.isascii():
        error = error.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()
    return Outcome(id=task.id, token=task.claim_token, action="fail", error=error[:20_000])


def _said(exc: BaseException) -> str:
    """What an exception says; its repr when its own ``__str__`` fails."""
    try:
        return str(exc)
    except Exception:
        return object.__repr__(exc)


# Outcome's fields in order (id, token, action, output, error, retry): one per task done.
_completed = builder(Outcome)

# A handler's result when its own transaction completed the task: nothing left to settle.
SETTLED: Any = object()


def _book(books: Books, task: Task, result: object, exc: BaseException | None) -> None:
    """Book how a handler call ended (both faces)."""
    if exc is None:
        if result is SETTLED:
            books.settled(task)
        else:
            books.owe(task, outcome_of(task, result, None))
    elif isinstance(exc, LeaseLost):
        books.lost(task)  # another claim holds the task: an outcome would be refused
    else:
        books.owe(task, outcome_of(task, None, exc))


def checked(queue: object, handler: object, options: object) -> None:
    """InvalidInput, naming it, unless a worker's queue, handler and options will do."""
    queue_name(queue)
    if not callable(handler):
        raise InvalidInput(
            f"handler must be callable, not {type(handler).__name__}", field="handler"
        )
    if not isinstance(options, WorkerOptions):
        raise InvalidInput("options must be WorkerOptions", field="options")


def _stats_or_raise(worker: AsyncWorker | Worker) -> WorkerStats:
    """What ``run()`` did; or, once it has shut down, the BaseException that is not an
    Exception (SystemExit, KeyboardInterrupt) a handler raised, raised again."""
    fatal, worker._fatal = worker._fatal, None
    if fatal is not None:
        raise fatal
    return worker.stats


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
    """Runs ``handler`` on tasks of ``queue`` with up to ``concurrency`` asyncio tasks.

    ``listening`` is set while its LISTEN connection is open: from then on a notification
    of new work wakes an idle worker at once. A transactional worker needs ``scope``, which
    makes the handler's transaction scope of a session.
    """

    def __init__(
        self,
        source: AsyncTaskSource,
        queue: str,
        handler: AsyncHandler | AsyncTransactionalHandler,
        options: WorkerOptions,
        *,
        scope: Callable[[AsyncSession], Any] | None = None,
    ) -> None:
        checked(queue, handler, options)
        options.check_transactional(scope, source.pool_max_size)
        self.source = source
        self.queue = queue
        self.handler = handler
        self.options = options
        self.scope = scope
        self.id = options.ident()
        self.stats = WorkerStats()
        self.listening = asyncio.Event()
        self._stopping = False
        self._ended = False  # run() is over: its listener exits (stop() is not implied)
        self._wake: asyncio.Event | None = None
        self._fatal: BaseException | None = None  # a handler's SystemExit, KeyboardInterrupt

    def stop(self) -> None:
        """Ask the worker to finish: no new claims, in-flight work finishes or is released."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run(self, *, until_empty: bool = False) -> WorkerStats:
        """Work until ``stop()`` (or SIGTERM); with ``until_empty``, until no work is ready.
        Cancelled (asyncio.run's Ctrl-C), it settles what has finished, releases the rest at
        once for other workers, and lets the cancellation through."""
        opts = self.options
        books = Books(opts, self.stats)
        self._wake = wake = asyncio.Event()
        self._ended = False
        jobs: dict[Claim, asyncio.Task[None]] = {}
        handle = self._in_transaction if opts.transactional else cast(AsyncHandler, self.handler)

        async def call(task: Task) -> None:
            try:
                result = await handle(task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _book(books, task, None, exc)
            except BaseException as exc:  # SystemExit, KeyboardInterrupt: fail, then stop
                _book(books, task, None, exc)
                if self._fatal is None:
                    self._fatal = exc
                self.stop()
            else:
                _book(books, task, result, None)
            jobs.pop(claim_of(task), None)
            wake.set()

        loop = asyncio.get_running_loop()
        with_signal = threading.current_thread() is threading.main_thread()
        if with_signal:
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        listen_task: asyncio.Task[None] | None = None
        try:
            listen_task = asyncio.create_task(self._listen(wake))
            while not self._stopping:
                wake.clear()  # before looking: a wake-up during the work below is kept
                claimed: list[Task] = []
                free = books.free
                try:
                    await asyncio.sleep(0)  # let finished handlers report first
                    await self.source.upkeep(books)
                    claimed = await self.source.turn(books, self.queue, free, self.id)
                    for task in claimed:
                        jobs[claim_of(task)] = asyncio.create_task(call(task))
                    if until_empty and not claimed and books.idle:
                        break
                except Unavailable:
                    pass  # the database is away: keep in-flight work, retry after a pause
                if claimed and len(claimed) == free:
                    await asyncio.sleep(0)  # full batch: let handlers start, then settle
                    continue
                timeout = min(opts.poll_interval, books.beat.left())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
                deadline = time.monotonic() + BATCH_WINDOW
                while books.held and len(books.held) > opts.concurrency // 2:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), left)
        except asyncio.CancelledError:  # the caller's Ctrl-C or cancel: settle, release, end
            self.stop()
            await self._drain(books, jobs, grace=0.0)
            raise
        else:
            await self._drain(books, jobs, grace=opts.grace)
        finally:
            if listen_task is not None:
                self._ended = True  # the listener finishes its current slice and exits
                try:
                    await asyncio.wait_for(listen_task, WAIT_SLICE * 8)
                except (TimeoutError, Exception):
                    listen_task.cancel()
            if with_signal:
                loop.remove_signal_handler(signal.SIGTERM)
            self._wake = None
        return _stats_or_raise(self)

    async def _in_transaction(self, task: Task) -> object:
        """Run the handler in the transaction that completes its task; SETTLED."""
        assert self.scope is not None
        handler = cast(AsyncTransactionalHandler, self.handler)
        async with self.source.completing(task, self.scope) as held:
            held.output = output_of(await handler(task, held.tx))
        return SETTLED

    async def _drain(
        self, books: Books, jobs: dict[Claim, asyncio.Task[None]], *, grace: float
    ) -> None:
        """Let in-flight handlers finish within ``grace`` seconds; release the rest."""
        if jobs and grace > 0:
            await asyncio.wait(list(jobs.values()), timeout=grace)
        late = list(jobs.values())
        for job in late:
            job.cancel()
        if late:  # let them unwind (roll back what they had begun) before settling
            await asyncio.wait(late, timeout=WAIT_SLICE * 8)
        jobs.clear()
        books.release_all()
        await self.source.turn(books, self.queue, 0, self.id)

    async def _listen(self, wake: asyncio.Event) -> None:
        """Set ``wake`` on notifications; when listening fails, polling carries on alone."""
        while not (self._stopping or self._ended):
            try:
                async with self.source.listener() as listener:
                    self.listening.set()
                    try:
                        while not (self._stopping or self._ended):
                            if await listener.wait(WAIT_SLICE):
                                wake.set()
                    finally:
                        self.listening.clear()
            except Unavailable:
                await asyncio.sleep(self.options.poll_interval)


class Worker:
    """Runs ``handler`` on tasks of ``queue``, at most ``concurrency`` at a time.

    Handlers run on runner threads started only as the work needs them (up to
    ``concurrency``): quick handlers are run one after another by the few runners awake,
    while handlers that block make room for more. ``listening`` is set while its LISTEN
    connection is open: from then on a notification of new work wakes an idle worker at once.
    A transactional worker needs ``scope``, which makes the handler's transaction scope of a
    session.
    """

    def __init__(
        self,
        source: TaskSource,
        queue: str,
        handler: Handler | TransactionalHandler,
        options: WorkerOptions,
        *,
        scope: Callable[[Session], Any] | None = None,
    ) -> None:
        checked(queue, handler, options)
        options.check_transactional(scope, source.pool_max_size)
        self.source = source
        self.queue = queue
        self.handler = handler
        self.options = options
        self.scope = scope
        self.id = options.ident()
        self.stats = WorkerStats()
        self.listening = threading.Event()
        self._stopping = threading.Event()
        self._fatal: BaseException | None = None  # a handler's SystemExit, KeyboardInterrupt

    def stop(self) -> None:
        """Ask the worker to finish: no new claims, in-flight work finishes or is released."""
        self._stopping.set()

    def run(self, *, until_empty: bool = False) -> WorkerStats:
        """Work until ``stop()`` (or SIGTERM); with ``until_empty``, until no work is ready.
        On Ctrl-C (KeyboardInterrupt in this thread) it settles what has finished, releases
        the rest at once for other workers, and raises it again."""
        opts = self.options
        books = Books(opts, self.stats)
        held = books.held
        finished = Finished()
        handle = self._in_transaction if opts.transactional else cast(Handler, self.handler)

        def call(task: Task) -> None:
            try:
                result = handle(task)
            except Exception as exc:
                finished.put((task, None, exc))
            except BaseException as exc:  # SystemExit, KeyboardInterrupt: fail, then stop
                if self._fatal is None:
                    self._fatal = exc
                self.stop()  # before its outcome is in: nothing more is claimed
                finished.put((task, None, exc))
            else:
                finished.put((task, result, None))

        def collect(want: int = 0, timeout: float | None = None) -> None:
            for task, result, exc in finished.take(want, timeout):
                _book(books, task, result, exc)  # dropped if released

        runners = Runners(call, opts.concurrency)
        with contextlib.ExitStack() as stack:
            # Handlers still running after the grace period were released: do not wait.
            stack.callback(runners.close)
            stack.enter_context(_on_sigterm(self.stop))
            wake = stack.enter_context(Wake(self.source.listener, self._stopping, self.listening))
            try:
                while not self._stopping.is_set():
                    claimed: list[Task] = []
                    try:
                        collect()
                        self.source.upkeep(books)
                        claimed = self.source.turn(books, self.queue, books.free, self.id)
                        runners.submit(claimed)
                        if until_empty and not claimed and books.idle:
                            break
                    except Unavailable:
                        pass  # the database is away: keep in-flight work, retry after a pause
                    # Even after a full batch, wait for handlers to finish (below) rather than
                    # cycle again at once: settling whatever few are done by then splits every
                    # later batch in parts.
                    timeout = max(0.001, min(opts.poll_interval, books.beat.left()))
                    if not held:
                        wake.wait(timeout)  # a notification, or the poll interval
                        continue
                    before = len(held)
                    if before > opts.concurrency // 2:
                        collect(before, BATCH_WINDOW)  # quick handlers: all of them, one wake-up
                    if len(held) == before:
                        collect(1, timeout)  # a handler finishing frees a slot
                        if len(held) > opts.concurrency // 2:
                            collect(len(held), BATCH_WINDOW)  # the rest may be about to finish
            except KeyboardInterrupt:  # Ctrl-C in the caller's thread: settle, release, end
                self.stop()
                self._drain(books, collect, grace=0.0)
                raise
            self._drain(books, collect, grace=opts.grace)
        return _stats_or_raise(self)

    def _in_transaction(self, task: Task) -> object:
        """Run the handler in the transaction that completes its task; SETTLED."""
        assert self.scope is not None
        handler = cast(TransactionalHandler, self.handler)
        with self.source.completing(task, self.scope) as held:
            held.output = output_of(handler(task, held.tx))
        return SETTLED

    def _drain(self, books: Books, collect: Callable[[int, float], None], *, grace: float) -> None:
        """Let in-flight handlers finish within ``grace`` seconds; release the rest."""
        deadline = time.monotonic() + grace
        collect(0, 0.0)  # what has finished already is settled, even without grace
        while books.held and time.monotonic() < deadline:
            collect(len(books.held), min(0.1, max(0.001, deadline - time.monotonic())))
        # A thread cannot be interrupted: its late outcome is dropped (the task is released
        # here, and a settle with the old token would be refused anyway).
        books.release_all()
        self.source.turn(books, self.queue, 0, self.id)
