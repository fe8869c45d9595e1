# Generated from src/agentledger/db/runner_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Run operations on PostgreSQL: the driver, the pool, retries, and tenant-bound transactions.

This is the only code that touches psycopg connections and cursors: it runs an operation's
statements in one transaction bound to a tenant, retries connection failures with backoff,
and translates driver errors.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, LiteralString, Protocol, TypeVar, cast

from psycopg import Connection, Cursor, Pipeline
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row, tuple_row
from psycopg_pool import ConnectionPool

from agentledger.config import Settings
from agentledger.db.adapters import register_adapters
from agentledger.db.binding import QUERIES, Binding
from agentledger.db.connect import OPTIONAL_EXTENSIONS, app_conninfo, connection_kwargs
from agentledger.db.listen_sync import Listener
from agentledger.db.spool import Spool
from agentledger.db.statements import Gen, Op, Stmt
from agentledger.db.translate import is_connection_failure, is_driver_error, translate
from agentledger.errors import LedgerError, Spooled, Unavailable

T = TypeVar("T")
log = logging.getLogger("agentledger")
BEGIN: LiteralString = "BEGIN"
COMMIT: LiteralString = "COMMIT"
# Around a statement marked ``-- plan: generic`` in an operation's own transaction (its
# plan is chosen when it is bound). set_config, not SET LOCAL: it is silent in the
# implicit transaction of a pipeline too.
GENERIC_PLAN: LiteralString = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"
ANY_PLAN: LiteralString = "SET LOCAL plan_cache_mode = DEFAULT"


class Runner(Protocol):
    """Runs one operation: in its own transaction, or inside an open one."""

    def __call__(self, op: Op[T], /) -> T: ...


class Commit:
    """How an operation's own transaction ends: whether its commit is under way (COMMIT
    sent, or the statement that the closing Sync commits), and whether it runs in the
    pipeline's implicit transaction (no BEGIN and no COMMIT: the Sync commits it)."""

    __slots__ = ("implicit", "sent")

    def __init__(self, *, implicit: bool = False) -> None:
        self.sent = False
        self.implicit = implicit


def execute(
    cur: Cursor[DictRow],
    stmt: Stmt,
    pipeline: Pipeline | None = None,
    commit: Commit | None = None,
) -> Any:
    """Send one statement and shape its result as the statement asked.

    In pipeline mode a statement whose result is not needed is only queued: it travels
    with the next one that is. With ``commit`` (the operation's own transaction), COMMIT
    travels with a statement marked last (none is needed in an implicit transaction), and
    its result is left :data:`UNREAD` in the cursor: the Sync that closes the pipeline
    fetches it, so the whole transaction takes one round trip.
    """
    if stmt.many:
        cur.executemany(stmt.query.sql, stmt.params)
        return None
    commits = False
    if commit is not None and pipeline is not None and stmt.last:
        commits = commit.sent = True
    generic = stmt.query.generic and pipeline is not None  # queued: no round trip of its own
    if generic:
        cur.connection.execute(GENERIC_PLAN)
    # Rows read by position come back in binary: cheaper to write and to read than text.
    cur.execute(stmt.query.sql, stmt.params, binary=stmt.fetch == "tuples")
    if commits:
        if commit is not None and not commit.implicit:
            cur.connection.execute(COMMIT)
        return UNREAD
    if generic:
        cur.connection.execute(ANY_PLAN)
    if stmt.fetch == "none":
        return None  # queued: it travels with the next statement (or COMMIT)
    if pipeline is not None:
        pipeline.sync()
    return result_of(cur, stmt)


# A statement's result still in its cursor, to be read once its pipeline is closed.
UNREAD: Any = object()


def result_of(cur: Cursor[DictRow], stmt: Stmt) -> Any:
    """The statement's result, from its cursor, in the shape it asked for."""
    if stmt.fetch == "none":
        return None
    if stmt.fetch == "rowcount":
        return cur.rowcount
    if stmt.fetch == "all":
        return cur.fetchall()
    if stmt.fetch == "tuples":
        return _fetch_tuples(cur)
    row = cur.fetchone()
    if stmt.fetch == "scalar":
        return None if row is None else next(iter(row.values()))
    return row


def _fetch_tuples(cur: Cursor[DictRow]) -> list[tuple[Any, ...]]:
    """All rows as plain tuples: no per-row dict, for results read by position."""
    rows = cast("Cursor[tuple[Any, ...]]", cur)
    rows.row_factory = tuple_row
    try:
        return rows.fetchall()
    finally:
        cur.row_factory = dict_row


def drive(
    cur: Cursor[DictRow],
    gen: Gen[T],
    pipeline: Pipeline | None = None,
    commit: Commit | None = None,
) -> T | Unread[T]:
    """Run an operation's generator on ``cur``: to completion, or (in its own transaction)
    up to the statement that carries COMMIT, whose result is read after the pipeline."""
    result: Any = None
    last = False
    try:
        while True:
            stmt = gen.send(result)
            if last:
                raise AssertionError("a statement after the one marked last")
            last = stmt.last
            result = execute(cur, stmt, pipeline, commit)
            if result is UNREAD:
                return Unread(gen, stmt)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class Unread(Generic[T]):
    """An operation whose last statement's result waits in the cursor."""

    __slots__ = ("gen", "stmt")

    def __init__(self, gen: Gen[T], stmt: Stmt) -> None:
        self.gen = gen
        self.stmt = stmt

    def finish(self, cur: Cursor[DictRow]) -> T:
        """Hand the operation its last result; its return value."""
        try:
            self.gen.send(result_of(cur, self.stmt))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        raise AssertionError("a statement after the one marked last")


class Session:
    """A connection inside an open transaction bound to one tenant (or the platform)."""

    def __init__(self, conn: Connection[DictRow], binding: Binding) -> None:
        self.conn = conn
        self.binding = binding

    def run(self, op: Op[T]) -> T:
        try:
            with self.conn.cursor() as cur:
                result = drive(cur, op.start())
                assert not isinstance(result, Unread)  # nothing commits inside a transaction
                return result
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise translate(exc, tenant=self.binding.tenant) from exc


class Database:
    """The application's pool and the policy for using it (binding, retries, errors)."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.extensions: frozenset[str] = frozenset()
        self.spool = Spool(settings.spool_dir) if settings.spool_dir is not None else None
        self._down_until = 0.0
        self.pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
            app_conninfo(settings, url),
            connection_class=Connection[DictRow],
            kwargs={**connection_kwargs(settings), "row_factory": dict_row},
            configure=_configure,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout,
            name="agentledger",
            open=False,
        )

    def open(self) -> None:
        self.pool.open(wait=False)
        try:
            self.probe_extensions()
        except Unavailable:
            if self.spool is None:
                raise
            log.warning("PostgreSQL is unavailable; writes will wait in %s", self.spool.directory)

    def probe_extensions(self) -> None:
        rows = self._run(
            Op(_installed_extensions, writes=False, idempotent=True), Binding.platform()
        )
        self.extensions = frozenset(rows)

    def close(self) -> None:
        self.pool.close()

    def run(self, op: Op[T], binding: Binding) -> T:
        """Run ``op`` in its own transaction; spoolable writes may wait in the spool."""
        if self.spool is not None and op.spoolable:
            return self._run_or_spool(op, binding, self.spool)
        return self._run(op, binding)

    def _run_or_spool(self, op: Op[T], binding: Binding, spool: Spool) -> T:
        """While the spool holds entries, new writes queue behind them, so order is kept."""
        _validate_offline(op)
        if not spool.has_pending():
            try:
                return self._run(op, binding)
            except Unavailable as exc:
                self._down_until = time.monotonic() + 1.0
                entry = spool.append(binding, op)
                raise Spooled(
                    f"{op.name} was spooled as {entry}: {exc.message}", entry_id=entry
                ) from None
        entry = spool.append(binding, op)
        results = self.replay(eager=False)
        if entry in results:
            return results[entry]  # type: ignore[no-any-return]
        raise Spooled(f"{op.name} was spooled as {entry} behind earlier entries", entry_id=entry)

    def replay(self, *, eager: bool = True) -> dict[str, Any]:
        """Apply spooled entries in order; stops at the first sign of an outage.

        ``eager=False`` (a write queueing behind the spool) skips the attempt when an outage
        was seen within the last second, so writes during an outage don't each wait for it.

        Returns the results by entry id. Entries the database refuses for a reason other
        than an outage are set aside in the spool's dead letters, with the error.
        """
        results: dict[str, Any] = {}
        spool = self.spool
        if spool is None or not spool.has_pending():
            return results
        if not eager and time.monotonic() < self._down_until:
            return results  # it was down a moment ago: don't make every write wait to see
        if not self.ping(timeout=min(1.0, self.settings.pool_timeout)):
            self._down_until = time.monotonic() + 1.0
            return results
        with spool.replaying() as mine:
            if not mine:
                return results
            for entry in spool.pending():
                try:
                    binding, op = Spool.decode(entry)
                    results[entry.id] = self._run(op, binding)
                except Unavailable:
                    return results
                except LedgerError as exc:
                    spool.quarantine(entry, f"{type(exc).__name__}: {exc}")
                    continue
                spool.mark_done(entry.id)
            spool.compact()
        return results

    def _run(self, op: Op[T], binding: Binding) -> T:
        """Run ``op`` in its own transaction, retrying connection failures with backoff.

        A failure while committing is retried only for idempotent operations: for the
        others the outcome is unknown, and the caller is told so.
        """
        delay = self.settings.retry_backoff
        for attempt in range(1, self.settings.retry_attempts + 1):
            gen = op.start()
            try:
                first = next(gen)  # the operation's input checks run before it connects
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            # A lone statement marked last runs in the pipeline's implicit transaction.
            commit = Commit(implicit=first.last and not first.many)
            try:
                with self.pool.connection() as conn:
                    try:
                        # BEGIN, the binding and the first statement share one round trip,
                        # COMMIT another (or the first, after a statement marked last: then
                        # the pipeline's closing Sync brings back its result; a lone one
                        # needs neither BEGIN nor COMMIT, as that Sync commits it).
                        with conn.cursor() as cur:
                            with conn.pipeline() as pipeline:
                                if not commit.implicit:
                                    cur.execute(BEGIN)
                                bound = _bound(binding, first, gen)
                                done = drive(cur, bound, pipeline, commit)
                                if not commit.sent:
                                    commit.sent = True
                                    cur.execute(COMMIT)
                            result = done.finish(cur) if isinstance(done, Unread) else done
                    except BaseException:
                        _discard_transaction(conn)
                        raise
                return result
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                retry = is_connection_failure(exc) and attempt < self.settings.retry_attempts
                if not retry or (commit.sent and not op.idempotent):
                    err = translate(exc, tenant=binding.tenant)
                    if commit.sent and is_connection_failure(exc):
                        err.message = f"{err.message} (the outcome of {op.name} is unknown)"
                        err.args = (err.message,)
                    raise err from exc
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def transaction(self, binding: Binding) -> Iterator[Session]:
        """One transaction for several operations.

        Connection failures before the first operation are retried; later ones raise
        Unavailable, and nothing of the block is committed.
        """
        conn = self._acquire_bound(binding)
        try:
            yield Session(conn, binding)
            conn.commit()
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise translate(exc, tenant=binding.tenant) from exc
        finally:
            _discard_transaction(conn)
            self.pool.putconn(conn)

    def _acquire_bound(self, binding: Binding) -> Connection[DictRow]:
        delay = self.settings.retry_backoff
        for attempt in range(1, self.settings.retry_attempts + 1):
            conn = None
            try:
                conn = self.pool.getconn()
                conn.set_autocommit(False)
                with conn.cursor() as cur:
                    execute(cur, binding.statement())
                return conn
            except Exception as exc:
                if conn is not None:
                    _discard_transaction(conn)
                    self.pool.putconn(conn)
                if not is_connection_failure(exc) or attempt == self.settings.retry_attempts:
                    raise translate(exc, tenant=binding.tenant) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def listener(self, *channels: str) -> Listener:
        """A dedicated LISTEN connection on ``channels`` (use with ``with``)."""
        return Listener(self.settings, self.url, channels)

    def ping(self, timeout: float | None = None) -> bool:
        """True when the server answers a query within ``timeout`` (the pool timeout)."""
        try:
            with self.pool.connection(timeout=timeout) as conn:
                conn.execute(QUERIES.ping.sql)
        except Exception:
            return False
        return True


def _bound(binding: Binding, first: Stmt, rest: Gen[T]) -> Gen[T]:
    """An operation (its first statement already drawn) preceded by its binding, so both
    travel in one pipeline flush."""
    yield binding.statement()
    stmt = first
    while True:
        result = yield stmt
        try:
            stmt = rest.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def _configure(conn: Connection[DictRow]) -> None:
    register_adapters(conn)


def _discard_transaction(conn: Connection[DictRow]) -> None:
    """Return the connection to the pool idle and in autocommit mode, whatever happened."""
    if conn.closed:
        return
    try:
        if conn.autocommit:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        else:
            conn.rollback()
            conn.set_autocommit(True)
    except Exception:
        conn.close()


def _validate_offline(op: Op[Any]) -> None:
    """Run the operation up to its first statement: its input checks come first, so bad
    input is refused now rather than spooled."""
    gen = op.start()
    try:
        next(gen)
    except StopIteration:
        pass
    finally:
        gen.close()


def _installed_extensions() -> Gen[list[str]]:
    rows = yield QUERIES.installed_extensions.all(names=list(OPTIONAL_EXTENSIONS))
    return [row["extname"] for row in rows]
