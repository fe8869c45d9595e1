"""The driver: run an operation's statements on a psycopg cursor and hand back the results.

An operation is an I/O-free generator (db/statements.py); :func:`drive` feeds it the result
of each statement it yields. Transactions, the pool and retries are the database's
(db/database_async.py); the one exception is :func:`run_lone`, the named path for an
operation whose only statement is its whole transaction.

The channels of the statements marked ``-- notifies: <channel>`` are collected for the
database, which wakes their listeners once the transaction committed (db/waker.py). Putting
a connection back as the pool expects it after a failure lives here too.
"""

from __future__ import annotations

from typing import Any, LiteralString, TypeVar, cast

from psycopg import AsyncConnection, AsyncCursor, AsyncPipeline
from psycopg.generators import send as send_all
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row, tuple_row

from agentledger.db.statements import Gen, Stmt

T = TypeVar("T")
BEGIN: LiteralString = "BEGIN"
COMMIT: LiteralString = "COMMIT"
# Around a statement marked ``-- plan: generic`` (its plan is chosen when it is bound).
# set_config, not SET LOCAL: it is silent in the implicit transaction of a pipeline too.
GENERIC_PLAN: LiteralString = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"
ANY_PLAN: LiteralString = "SET LOCAL plan_cache_mode = DEFAULT"


async def execute(
    cur: AsyncCursor[DictRow], stmt: Stmt, pipeline: AsyncPipeline | None = None
) -> Any:
    """Send one statement and return its result in the shape the statement asked for.

    In pipeline mode a statement whose result is not needed is only queued: it travels
    with the next one that is (or with COMMIT).
    """
    await send(cur, stmt, pipeline)
    if stmt.many or stmt.fetch == "none":
        return None
    if pipeline is not None:
        await sync(cur, pipeline)
    return await result_of(cur, stmt)


async def sync(cur: AsyncCursor[DictRow], pipeline: AsyncPipeline) -> None:
    """The pipeline's Sync, once everything queued before it is on its way to the server.

    psycopg's ``Pipeline.sync`` tries once to flush what libpq holds, then waits only to read:
    a statement larger than the socket's buffers (an upsert of thousands of vectors) stayed
    half sent while the server waited for the rest, and both waited for ever. Sending all of
    it first leaves the Sync alone in libpq's buffer.
    """
    conn = cur.connection
    await conn.wait(send_all(conn.pgconn))
    await pipeline.sync()


async def send(cur: AsyncCursor[DictRow], stmt: Stmt, pipeline: AsyncPipeline | None) -> None:
    """Send one statement (in pipeline mode: queue it) without reading its result."""
    if stmt.many:
        await cur.executemany(stmt.query.sql, stmt.params)
        return
    generic = stmt.query.generic and pipeline is not None  # queued: no round trip of its own
    if generic:
        await cur.connection.execute(GENERIC_PLAN)
    # Rows read by position come back in binary.
    await cur.execute(stmt.query.sql, stmt.params, binary=stmt.fetch == "tuples")
    if generic:
        await cur.connection.execute(ANY_PLAN)


async def result_of(cur: AsyncCursor[DictRow], stmt: Stmt) -> Any:
    """The statement's result, from its cursor, in the shape it asked for."""
    if stmt.fetch == "none":
        return None
    if stmt.fetch == "rowcount":
        return cur.rowcount
    if stmt.fetch == "all":
        return await cur.fetchall()
    if stmt.fetch == "tuples":
        return await _fetch_tuples(cur)
    row = await cur.fetchone()
    if stmt.fetch == "scalar":
        return None if row is None else next(iter(row.values()))
    return row


async def _fetch_tuples(cur: AsyncCursor[DictRow]) -> list[tuple[Any, ...]]:
    """All rows as plain tuples, for results read by position."""
    rows = cast("AsyncCursor[tuple[Any, ...]]", cur)
    rows.row_factory = tuple_row
    try:
        return await rows.fetchall()
    finally:
        cur.row_factory = dict_row


async def drive(
    cur: AsyncCursor[DictRow],
    gen: Gen[T],
    pipeline: AsyncPipeline | None = None,
    woken: set[str] | None = None,
) -> T:
    """Run an operation's generator on ``cur`` to completion; its return value. The
    channels its statements notify are added to ``woken``."""
    _, value = await _steps(cur, gen, pipeline, woken, finals=False)
    return cast(T, value)


async def _steps(
    cur: AsyncCursor[DictRow],
    gen: Gen[Any],
    pipeline: AsyncPipeline | None,
    woken: set[str] | None,
    *,
    finals: bool,
) -> tuple[Stmt | None, Any]:
    """Run ``gen``'s statements: (None, its return value); with ``finals``, as soon as it
    yields a statement marked :meth:`Stmt.final`, (that statement, None), the statement
    queued and its result not read yet."""
    result: Any = None
    try:
        while True:
            stmt = gen.send(result)
            if stmt.query.notifies is not None and woken is not None:
                woken.add(stmt.query.notifies)
            if finals and stmt.last:
                await send(cur, stmt, pipeline)
                return stmt, None
            result = await execute(cur, stmt, pipeline)
    except StopIteration as stop:
        return None, stop.value


class Commit:
    """The COMMIT of an operation's own transaction, queued in its pipeline. From then on
    (``queued``) a lost connection leaves the outcome unknown."""

    def __init__(self) -> None:
        self.queued = False

    async def queue(self, conn: AsyncConnection[DictRow]) -> None:
        # Never prepared: when a statement before it fails, the server skips it up to the
        # Sync, and a statement psycopg meant to prepare there would not exist.
        self.queued = True
        await conn.execute(COMMIT, prepare=False)


async def run_own(
    conn: AsyncConnection[DictRow],
    binding: Stmt,
    first: Stmt,
    rest: Gen[T],
    commit: Commit,
    woken: set[str],
    *,
    final_commits: bool,
) -> T:
    """Run an operation (its ``first`` statement already drawn from ``rest``) as a
    transaction of its own. BEGIN, the binding and the first statement share one round
    trip; COMMIT goes with the pipeline's closing Sync, after its last statement, or, with
    ``final_commits`` (an idempotent operation), with the statement marked
    :meth:`Stmt.final`, whose result is read once both arrived. The channels its statements
    notify are added to ``woken``. On failure ``commit.queued`` tells whether COMMIT was
    sent."""
    gen = _bound(binding, first, rest)
    async with conn.cursor() as cur:
        async with conn.pipeline() as pipeline:
            await cur.execute(BEGIN)
            final, value = await _steps(cur, gen, pipeline, woken, finals=final_commits)
            await commit.queue(conn)
        if final is None:
            return cast(T, value)
        result = await result_of(cur, final)
    return _last(gen, final, result, "final")


def _bound(binding: Stmt, first: Stmt, rest: Gen[T]) -> Gen[T]:
    """An operation (its first statement already drawn) preceded by its binding, so both
    travel in one pipeline flush."""
    yield binding
    stmt = first
    while True:
        result = yield stmt
        try:
            stmt = rest.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def run_lone(
    conn: AsyncConnection[DictRow],
    binding: Stmt,
    stmt: Stmt,
    rest: Gen[T],
    commit: Commit,
) -> T:
    """Run an operation whose only statement is ``stmt`` (marked with :meth:`Stmt.alone`, and
    already drawn from ``rest``) as a transaction of its own, in one round trip.

    ``binding`` and ``stmt`` run in the pipeline's implicit transaction, with neither BEGIN
    nor COMMIT: the pipeline's closing Sync commits them, and the result is read after it.
    Once this is called the commit is under way (``commit.queued``): a connection lost on
    the way leaves the outcome unknown. AssertionError if the operation yields another
    statement.
    """
    commit.queued = True
    async with conn.cursor() as cur:
        async with conn.pipeline() as pipeline:
            await execute(cur, binding, pipeline)
            if stmt.query.generic:  # local to its transaction: no reset needed
                await conn.execute(GENERIC_PLAN)
            await cur.execute(stmt.query.sql, stmt.params, binary=stmt.fetch == "tuples")
        result = await result_of(cur, stmt)
    return _last(rest, stmt, result, "alone")


def _last(rest: Gen[T], stmt: Stmt, result: Any, mark: str) -> T:
    """The operation's return value, once ``stmt``, which it marked as its last (``mark``),
    gives it ``result``; AssertionError if it yields another statement."""
    try:
        rest.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    raise AssertionError(f"a statement after {stmt.query.name}, which was marked {mark}")


def notified(stmt: Stmt) -> set[str]:
    return set() if stmt.query.notifies is None else {stmt.query.notifies}


async def discard_transaction(conn: AsyncConnection[DictRow]) -> None:
    """Return the connection to the pool idle and in autocommit mode, whatever happened."""
    if conn.closed:
        return
    try:
        if conn.autocommit:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.execute("ROLLBACK")
        else:
            await conn.rollback()
            await conn.set_autocommit(True)
    except Exception:
        await conn.close()


def forget_prepared(conn: AsyncConnection[DictRow]) -> None:
    """Make psycopg prepare the connection's statements afresh after an error in a
    pipeline. When a statement fails, the server skips the ones queued after it up to the
    Sync; psycopg (3.3) still records a skipped one as prepared if that round was to
    prepare it, and its next use names a statement the server never made. Clearing the
    cache (its DEALLOCATE ALL is sent before the next statement) keeps the two in step."""
    conn._prepared.clear()
