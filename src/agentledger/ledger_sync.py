# Generated from src/agentledger/ledger_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Ledger: the async entry point that binds modules to a tenant.

``Ledger`` (ledger_sync.py) is generated from this file by scripts/async_to_sync.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString, Self, TypeVar

from agentledger.agents.facade_sync import Agents
from agentledger.alerts import ALERTS_CHANNEL
from agentledger.alerts.facade_sync import Alerts
from agentledger.cases.facade_sync import Cases
from agentledger.catalog.facade_sync import Catalog, PlatformCatalog
from agentledger.checkpoints.facade_sync import Checkpoints
from agentledger.config import Settings
from agentledger.db import app_migrations, migrate
from agentledger.db.app_sql import run_sql
from agentledger.db.binding import Binding
from agentledger.db.connect import app_password, owner_url
from agentledger.db.database_sync import Database, Runner, Session
from agentledger.db.freshness import WriteMark
from agentledger.db.scoped_sync import Scoped
from agentledger.db.spool import SpoolStatus
from agentledger.db.statements import Op
from agentledger.db.translate import is_connection_failure
from agentledger.db.wakeups import Subscription
from agentledger.decisions.facade_sync import Decisions
from agentledger.events.facade_sync import Events
from agentledger.events.follow_sync import Follower
from agentledger.expiry.facade_sync import Expiry
from agentledger.memory.facade_sync import Memory
from agentledger.memory.recorder_sync import AccessRecorder
from agentledger.runs.facade_sync import Runs
from agentledger.sessions.facade_sync import Sessions
from agentledger.tasks.facade_sync import PlatformTasks, Tasks
from agentledger.tenants.facade_sync import Keys, Tenants

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Health:
    """The database answers; every revision of the core and of the registered application
    folders is applied (``missing_revisions`` are not yet; ``unknown_revisions`` are applied
    but neither the core nor a registered folder holds them). ``standby``: whether the read
    connection answers, None when no ``read_database_url`` is set (reads fall back to the
    primary while it does not, so it never makes the ledger unhealthy)."""

    database: bool
    migrations_current: bool
    extensions: frozenset[str]
    missing_revisions: tuple[str, ...] = ()
    unknown_revisions: tuple[str, ...] = ()
    standby: bool | None = None
    migrations: str = ""  # the migrations' state for an operator, in a line


class Modules:
    """The modules reachable through a tenant-bound handle or an open transaction.

    ``run`` runs each operation; ``db``, when given, lets the tasks module start workers
    (which need connections of their own, so an open transaction passes none); ``recorder``
    counts touched memory reads for a later write (an open transaction passes none: its
    touches are written with it).
    """

    def __init__(
        self,
        tenant_id: str,
        run: Runner,
        db: Database | None = None,
        recorder: AccessRecorder | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self._run_app_sql = run
        self.keys = Keys(run)
        self.events = Events(run)
        self.decisions = Decisions(run)
        self.runs = Runs(run)
        self.alerts = Alerts(run)
        self.agents = Agents(run)
        self.tasks = Tasks(run, db, tenant_id, Transaction)
        self.memory = Memory(
            run,
            recorder=recorder,
            tenant=tenant_id,
            tasks=self.tasks,
            extensions=None if db is None else (lambda: db.extensions),
        )
        self.sessions = Sessions(run)
        self.catalog = Catalog(run)
        self.checkpoints = Checkpoints(run)
        self.expiry = Expiry(run)
        self.cases = Cases(run)

    def execute(self, sql: LiteralString, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement of the application's own (its tables, docs/app-tables.md) in
        this tenant's binding; returns the number of rows it changed.

        ``sql`` is literal text with ``%(name)s`` placeholders, filled from ``params`` (a
        literal percent sign is ``%%``). Row-level security on the application's tenant
        tables shows and accepts only this tenant's rows. Errors are LedgerErrors.
        """
        result: int = self._run_app_sql(run_sql(sql, params, "rowcount"))
        return result

    def fetch(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Like :meth:`execute`; returns every row, as a dict by column name."""
        rows: list[dict[str, Any]] = self._run_app_sql(run_sql(sql, params, "all"))
        return rows

    def fetch_one(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Like :meth:`execute`; returns the first row, or None."""
        row: dict[str, Any] | None = self._run_app_sql(run_sql(sql, params, "one"))
        return row

    def fetch_value(self, sql: LiteralString, params: Mapping[str, Any] | None = None) -> Any:
        """Like :meth:`execute`; returns the first column of the first row, or None."""
        return self._run_app_sql(run_sql(sql, params, "scalar"))


class Transaction(Modules):
    """Operations of several modules committed together, or not at all."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.binding.tenant or "", session.run)
        self._session = session


class TenantScope(Modules):
    """Everything one tenant owns; each call runs in its own transaction bound to it.

    With ``read_your_writes``, and a standby configured, this handle's reads see its own
    writes: they run on the standby only once it has replayed them (docs/scaling.md).
    """

    def __init__(
        self,
        db: Database,
        binding: Binding,
        *,
        read_your_writes: bool = False,
        recorder: AccessRecorder | None = None,
    ) -> None:
        super().__init__(binding.tenant or "", self._run, db, recorder)
        self._db = db
        self._binding = binding
        self._mark = WriteMark() if read_your_writes else None

    def _run(self, op: Op[T]) -> T:
        return self._db.run(op, self._binding, mark=self._mark)

    def follow(
        self,
        subscriber: str | None = None,
        *,
        after: int | None = None,
        types: Sequence[str] | None = None,
        poll_interval: float = 1.0,
    ) -> Follower:
        """Follow the tenant's event log (``with scope.follow("projector") as f``):
        from the subscriber's checkpoint, or ``after`` a position when given."""
        return Follower(
            self._db,
            self._binding.tenant or "",
            subscriber,
            after=after,
            types=types,
            poll_interval=poll_interval,
        )

    def alert_wakeups(self) -> Subscription:
        """Wake-ups when one of the tenant's alerts is raised (``with
        scope.alert_wakeups() as w``, then ``w.wait(timeout)``), on the connection the
        process's waiters share. A hint to read the pending alerts now; notifications can be
        lost across a reconnect, so read now and then as well."""
        return self._db.wakeups.subscribe(ALERTS_CHANNEL, self._binding.tenant)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``with scope.transaction() as tx:`` runs several operations atomically."""
        with self._db.transaction(self._binding, mark=self._mark) as session:
            yield Transaction(session)


class Ledger(Scoped):
    """agentledger for asyncio code.

    ``Ledger()`` uses the embedded PostgreSQL (started if needed) unless the settings
    name a ``database_url``; ``open()`` applies pending migrations unless told not to.
    """

    def __init__(self, settings: Settings | None = None, *, migrate: bool = True) -> None:
        self.settings = settings if settings is not None else Settings.build()
        self._migrate = migrate
        self._db: Database | None = None
        self._recorder: AccessRecorder | None = None
        self._locations: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, *, migrate: bool = True, **overrides: Any) -> Self:
        """Settings from ``AGENTLEDGER_*`` / ``DATABASE_URL``, with keyword overrides."""
        return cls(Settings.from_env(**overrides), migrate=migrate)

    def open(self) -> Self:
        if self._db is not None:
            return self
        locations = app_migrations.registered(self.settings)
        url = owner_url(self.settings)
        if self._migrate:
            try:
                _migrate_if_behind(url, self.settings, locations)
            except Exception as exc:
                # With a spool, a ledger opens while the database is down; writes wait.
                if self.settings.spool_dir is None or not _is_outage(exc):
                    raise
        db = Database(self.settings, url)
        db.open()
        self._db = db
        interval = self.settings.access_flush_interval
        self._recorder = AccessRecorder(db, interval) if interval > 0 else None
        self._locations = locations
        return self

    def close(self) -> None:
        if self._db is not None:
            if not self._db.forked:  # the counts are the parent's to write
                self.flush_access()
            self._db.close()
            self._db = None

    def flush_access(self) -> int:
        """Write the touched memory reads counted so far (memory/access.py) now; how many
        entities were updated."""
        return 0 if self._recorder is None else self._recorder.flush()

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the ledger is not open: call open() or use it as a context manager")
        return self._db

    @property
    def tenants(self) -> Tenants:
        """Tenant administration (the platform scope)."""
        return Tenants(self.db)

    @property
    def platform_tasks(self) -> PlatformTasks[Transaction]:
        """Cross-tenant, fair claims and workers for a platform worker (the platform scope)."""
        return PlatformTasks(self.db, Transaction)

    @property
    def platform_catalog(self) -> PlatformCatalog:
        """The global catalog (the platform scope): documents and schemas every tenant
        reads, written only here."""
        return PlatformCatalog(self.db)

    def tenant(self, tenant_id: str, *, read_your_writes: bool = False) -> TenantScope:
        """A handle bound to one tenant: ``ledger.tenant("acme").keys.list()``.

        Reads may run on a standby (``read_database_url``); ``read_your_writes=True``
        makes this handle's reads see the writes it made (keep the handle to keep that).
        """
        return TenantScope(
            self.db,
            Binding.to_tenant(tenant_id),
            read_your_writes=read_your_writes,
            recorder=self._recorder,
        )

    def replay_spool(self) -> int:
        """Apply what the spool holds (in order, exactly once); returns how many applied."""
        return len(self.db.replay())

    def spool_status(self) -> SpoolStatus | None:
        spool = self.db.spool
        return None if spool is None else spool.status()

    def pool_stats(self) -> dict[str, int]:
        """Connection pool counters (size, available, waiting...) for metrics; the standby
        pool's, when there is one, under the same names prefixed ``read_``."""
        stats = dict(self.db.pool.get_stats())
        if self.db.standby is not None:
            read = self.db.standby.pool.get_stats()
            stats.update({f"read_{name}": value for name, value in read.items()})
        return stats

    def health(self) -> Health:
        db = self.db
        standby = None if db.standby is None else db.ping(standby=True)
        if not db.ping():
            return Health(
                database=False,
                migrations_current=False,
                extensions=db.extensions,
                standby=standby,
            )
        found = migrate.status(db.url, self._locations)
        return Health(
            database=True,
            migrations_current=found.current,
            extensions=db.extensions,
            missing_revisions=found.missing,
            unknown_revisions=tuple(sorted(found.unknown)),
            standby=standby,
            migrations=found.describe(),
        )


def _is_outage(exc: BaseException) -> bool:
    return is_connection_failure(exc) or is_connection_failure(exc.__cause__ or exc)


def _migrate_if_behind(url: str, settings: Settings, locations: tuple[Path, ...]) -> None:
    """Upgrade when a revision of the core or of ``locations`` is missing (ConfigError when
    the database holds revisions neither knows)."""
    if not migrate.is_current(url, locations):
        migrate.upgrade(
            url,
            app_role=settings.app_role,
            app_password=app_password(settings),
            locations=locations,
        )
