# Generated from src/agentledger/db/database_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The database: the pool, tenant-bound transactions, retries, and the spool's replay.

Each operation runs in a transaction bound to a tenant (or the platform) through the driver
(db/driver_sync.py); connection failures are retried with backoff, driver errors become
LedgerError, and reads go to a standby when one is configured (db/standby_sync.py)."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import Connection
from psycopg.errors import SerializationFailure
from psycopg.rows import DictRow

from agentledger.attempts import Repeating
from agentledger.config import Settings
from agentledger.db.binding import QUERIES, Binding
from agentledger.db.connect import (
    OPTIONAL_EXTENSIONS,
    app_conninfo,
    read_conninfo,
    transaction_settings,
)
from agentledger.db.driver_sync import (
    Commit,
    discard_transaction,
    drive,
    execute,
    forget_prepared,
    notified,
    run_lone,
    run_own,
)
from agentledger.db.freshness import WriteMark
from agentledger.db.leader_sync import LeaderLock
from agentledger.db.listen_sync import Listener
from agentledger.db.pool_sync import new_pool, why_unreachable
from agentledger.db.spool import Spool, check_tenant_life, tenant_created
from agentledger.db.standby_sync import Standby
from agentledger.db.statements import Gen, Op
from agentledger.db.translate import is_connection_failure, is_driver_error, translate
from agentledger.db.waker import Waker
from agentledger.db.wakeups import Wakeups
from agentledger.errors import ConfigError, LedgerError, Spooled, Unavailable

T = TypeVar("T")
log = logging.getLogger("agentledger")
# bind_tenant's state for a tenant it does not know (see translate.CUSTOM_STATES).
TENANT_NOT_FOUND = "ALNF0"


class Runner(Protocol):
    """Runs one operation: in its own transaction, or inside an open one."""

    def __call__(self, op: Op[T], /) -> T: ...


class Session:
    """A connection inside an open transaction bound to one tenant (or the platform)."""

    def __init__(self, conn: Connection[DictRow], binding: Binding) -> None:
        self.conn = conn
        self.binding = binding
        # The channels to wake once the transaction commits.
        self.woken: set[str] = set()

    def run(self, op: Op[T]) -> T:
        try:
            with self.conn.cursor() as cur:
                return drive(cur, op.start(), woken=self.woken)
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
        self.spool = (
            Spool(settings.spool_dir, replay_modules=settings.spool_replay_modules)
            if settings.spool_dir is not None
            else None
        )
        self._down_until = 0.0
        self._pid = os.getpid()  # its connections are this process's alone
        # Through a transaction-mode pooler, each transaction's binding sets these.
        self._carried = transaction_settings(settings)
        self.conninfo = app_conninfo(settings, url)
        self.pool = new_pool(settings, self.conninfo, "agentledger")
        # Listeners of what a transaction wrote for are woken once it committed.
        self.waker = Waker(settings, url)
        # Followers' wake-ups: one LISTEN connection per channel for the process (async).
        self.wakeups = Wakeups(settings, url)
        read = read_conninfo(settings)
        self.standby = (
            None
            if read is None
            else Standby(settings, new_pool(settings, read, "agentledger-read", standby=True))
        )

    def open(self) -> None:
        self.pool.open(wait=False)
        if self.standby is not None:
            self.standby.pool.open(wait=False)
        try:
            self.probe_extensions()
        except Unavailable as exc:
            if self.spool is None:
                cause = why_unreachable(self.settings, self.conninfo, exc)
                self.close()  # its pools would go on trying to connect
                raise cause from exc
            log.warning("PostgreSQL is unavailable; writes will wait in %s", self.spool.directory)

    def probe_extensions(self) -> None:
        rows = self._run(
            Op(_installed_extensions, writes=False, idempotent=True), Binding.platform()
        )
        self.extensions = frozenset(rows)

    @property
    def forked(self) -> bool:
        """Whether this is a forked child's copy (see :meth:`_check_process`)."""
        return os.getpid() != self._pid

    def close(self) -> None:
        if self.forked:
            return  # a forked child's copy: closing would end the parent's sessions
        self.wakeups.close()
        self.waker.close()
        if self.standby is not None:
            self.standby.pool.close()
        self.pool.close()

    def run(self, op: Op[T], binding: Binding, *, mark: WriteMark | None = None) -> T:
        """Run ``op`` in its own transaction; spoolable writes may wait in the spool.

        With a standby configured, an operation marked ``standby`` runs there (on the
        primary while the standby is down). ``mark`` asks for read-your-writes: a write
        moves it to how far the primary's WAL reached, and a read runs on the standby only
        once it has replayed that far (docs/scaling.md).
        """
        self._check_process()
        if self.standby is not None:
            return self._routed(op, binding, self.standby, mark)
        if self.spool is not None and op.spoolable:
            return self._run_or_spool(op, binding, self.spool)
        return self._run(op, binding)

    def _routed(self, op: Op[T], binding: Binding, standby: Standby, mark: WriteMark | None) -> T:
        """With a standby: the reads it may serve go there, and writes keep ``mark``."""
        if op.on_standby:
            return self._read(op, binding, standby, mark)
        try:
            if self.spool is not None and op.spoolable:
                result = self._run_or_spool(op, binding, self.spool)
            else:
                result = self._run(op, binding)
        except Unavailable:
            if mark is not None and op.writes:
                mark.unknown = True  # it may have committed
            raise
        if mark is not None and op.writes:
            self._mark(mark)
        return result

    def _read(self, op: Op[T], binding: Binding, standby: Standby, mark: WriteMark | None) -> T:
        """On the standby when it is up and has replayed ``mark``; otherwise, and when it
        fails or cannot serve the read, on the primary."""
        if standby.usable and (mark is None or not mark.unknown):
            try:
                return self._run(op, binding, standby, 0 if mark is None else mark.lsn)
            except _ToPrimary:
                pass
        return self._run(op, binding)

    def _mark(self, mark: WriteMark) -> None:
        """Move ``mark`` to the primary's WAL position now, past the write just committed."""
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                lsn = execute(cur, QUERIES.wal_insert_lsn.scalar())
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            mark.unknown = True  # the write stands; the scope's reads go to the primary
            return
        mark.reached(int(lsn))

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
        results = self.replay(eager=False, caller=entry)
        if entry not in results:
            behind = f"{op.name} was spooled as {entry} behind earlier entries"
            raise Spooled(behind, entry_id=entry)
        if isinstance(results[entry], LedgerError):
            raise results[entry]  # refused, as it would have been without the spool
        return results[entry]  # type: ignore[no-any-return]

    def replay(self, *, eager: bool = True, caller: str | None = None) -> dict[str, Any]:
        """Apply spooled entries in order; stops at the first sign of an outage.

        ``eager=False`` (a write queueing behind the spool) skips the attempt when an outage
        was seen within the last second, so writes during an outage don't each wait for it.

        Returns the results by entry id. Entries the database refuses for a reason other
        than an outage are set aside in the spool's dead letters, with the error; but the
        entry of a ``caller`` still waiting for it is dropped, its error returned as its
        result for the caller to raise.
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
            created: dict[str | None, Any] = {}  # each tenant's, for check_tenant_life
            for entry in spool.pending():
                try:
                    binding, op = spool.decode(entry)
                    if entry.tenant not in created:
                        life = tenant_created(entry.tenant)
                        created[entry.tenant] = self._run(life, Binding.platform())
                    check_tenant_life(entry, created[entry.tenant])
                    results[entry.id] = self._run(op, binding)
                except Unavailable:
                    return results
                except LedgerError as exc:
                    if entry.id == caller:
                        results[entry.id] = exc
                    else:
                        spool.quarantine(entry, f"{type(exc).__name__}: {exc}")
                        continue
                spool.mark_done(entry.id)
            spool.compact()
        return results

    def _run(self, op: Op[T], binding: Binding, standby: Standby | None = None, lsn: int = 0) -> T:
        """Run ``op`` in its own transaction, retrying connection failures with backoff.

        A failure while committing is retried only for idempotent operations: for the
        others the outcome is unknown, and the caller is told so.

        On ``standby`` (once it has replayed ``lsn``) there is one attempt: _ToPrimary when
        the primary should serve the read instead.
        """
        pool = self.pool if standby is None else standby.pool
        attempts = self.settings.retry_attempts if standby is None else 1
        delay, again = self.settings.retry_backoff, False  # again: a COMMIT sent was lost
        for attempt in range(1, attempts + 1):
            gen = op.start()
            try:
                first = next(gen)  # the operation's input checks run before it connects
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            commit = Commit()  # once queued, a lost connection leaves the outcome unknown
            try:
                with pool.connection() as conn, Repeating(again):
                    if standby is not None and lsn and not standby.caught_up(conn, lsn):
                        raise _ToPrimary("the standby has not replayed the scope's last write")
                    woken = notified(first)
                    bind = binding.statement(self._carried)
                    try:
                        if first.lone or (op.single and op.idempotent and not first.many):
                            result = run_lone(conn, bind, first, gen, commit)
                        else:
                            result = run_own(
                                conn,
                                bind,
                                first,
                                gen,
                                commit,
                                woken,
                                final_commits=op.idempotent,
                            )
                    except BaseException as exc:
                        discard_transaction(conn)
                        if isinstance(exc, psycopg.Error):
                            forget_prepared(conn)
                        raise
                    self.waker.wake(binding.tenant, woken)
                    return result
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                if standby is not None and _primary_serves(exc):
                    if is_connection_failure(exc):
                        standby.failed(exc)
                    raise _ToPrimary(str(exc)) from exc
                retry = is_connection_failure(exc) and attempt < attempts
                again = again or commit.queued
                if not retry or (commit.queued and not op.idempotent):
                    err = translate(exc, tenant=binding.tenant)
                    if commit.queued and is_connection_failure(exc):
                        err.message = f"{err.message} (the outcome of {op.name} is unknown)"
                        err.args = (err.message,)
                    raise err from exc
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def transaction(self, binding: Binding, *, mark: WriteMark | None = None) -> Iterator[Session]:
        """One transaction for several operations, on the primary.

        Connection failures before the first operation are retried; later ones raise
        Unavailable, and nothing of the block is committed. ``mark`` as for :meth:`run`.
        """
        self._check_process()
        conn = self._acquire_bound(binding)
        try:
            session = Session(conn, binding)
            yield session
            conn.commit()
            self.waker.wake(binding.tenant, session.woken)
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            err = translate(exc, tenant=binding.tenant)
            if mark is not None and isinstance(err, Unavailable):
                mark.unknown = True  # it may have committed
            raise err from exc
        finally:
            discard_transaction(conn)
            self.pool.putconn(conn)
        if mark is not None and self.standby is not None:
            self._mark(mark)

    def _check_process(self) -> None:
        """ConfigError in a process forked after this database opened: its connections
        are the parent's sessions, which two processes cannot share."""
        if self.forked:
            raise ConfigError(
                f"this ledger was opened in process {self._pid}, which forked this one: "
                "its connections belong to that process; open a ledger in this process"
            )

    def _acquire_bound(self, binding: Binding) -> Connection[DictRow]:
        delay = self.settings.retry_backoff
        for attempt in range(1, self.settings.retry_attempts + 1):
            conn = None
            try:
                conn = self.pool.getconn()
                conn.set_autocommit(False)
                with conn.cursor() as cur:
                    execute(cur, binding.statement(self._carried))
                return conn
            except Exception as exc:
                if conn is not None:
                    discard_transaction(conn)
                    self.pool.putconn(conn)
                if not is_connection_failure(exc) or attempt == self.settings.retry_attempts:
                    raise translate(exc, tenant=binding.tenant) from exc
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def listener(self, *channels: str) -> Listener:
        """A dedicated LISTEN connection on ``channels`` (use with ``with``)."""
        return Listener(self.settings, self.url, channels)

    def leader_lock(self, name: str) -> LeaderLock:
        """A named session-level lock on its own connection, for leader election."""
        return LeaderLock(self.settings, self.url, name)

    def ping(self, timeout: float | None = None, *, standby: bool = False) -> bool:
        """True when the server (with ``standby``: the read connection, False when none is
        configured) answers a query within ``timeout`` (the pool's timeout)."""
        if standby and self.standby is None:
            return False
        pool = self.standby.pool if standby and self.standby is not None else self.pool
        try:
            with pool.connection(timeout=timeout) as conn:
                conn.execute(QUERIES.ping.sql)
        except Exception:
            return False
        return True


class _ToPrimary(Exception):
    """The standby cannot serve this read now: the primary will."""


def _primary_serves(exc: BaseException) -> bool:
    """Failures of a read on the standby that the primary does not share: the standby is
    down, cancelled the read in a conflict with its replay, or does not know the tenant
    yet (created since its last replay)."""
    if is_connection_failure(exc) or isinstance(exc, SerializationFailure):
        return True
    return (
        isinstance(exc, psycopg.Error)
        and exc.sqlstate == TENANT_NOT_FOUND
        and exc.diag.column_name == "tenant_id"
    )


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
