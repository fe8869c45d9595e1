"""AsyncLedger: the async entry point that binds modules to a tenant.

``Ledger`` (ledger_sync.py) is generated from this file by scripts/async_to_sync.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString, Self, TypeVar

from agentledger.agents.facade_async import AsyncAgents
from agentledger.alerts import ALERTS_CHANNEL
from agentledger.alerts.facade_async import AsyncAlerts
from agentledger.cases.facade_async import AsyncCases
from agentledger.catalog.facade_async import AsyncCatalog, AsyncPlatformCatalog
from agentledger.checkpoints.facade_async import AsyncCheckpoints
from agentledger.config import Settings
from agentledger.db import app_migrations, migrate
from agentledger.db.app_sql import run_sql
from agentledger.db.binding import Binding
from agentledger.db.connect import app_password, owner_url
from agentledger.db.database_async import AsyncDatabase, AsyncRunner, AsyncSession
from agentledger.db.freshness import WriteMark
from agentledger.db.scoped_async import AsyncScoped
from agentledger.db.spool import SpoolStatus
from agentledger.db.statements import Op
from agentledger.db.translate import is_connection_failure
from agentledger.db.wakeups import AsyncSubscription
from agentledger.decisions.facade_async import AsyncDecisions
from agentledger.events.facade_async import AsyncEvents
from agentledger.events.follow_async import AsyncFollower
from agentledger.expiry.facade_async import AsyncExpiry
from agentledger.memory.facade_async import AsyncMemory
from agentledger.memory.recorder_async import AsyncAccessRecorder
from agentledger.runs.facade_async import AsyncRuns
from agentledger.sessions.facade_async import AsyncSessions
from agentledger.tasks.facade_async import AsyncPlatformTasks, AsyncTasks
from agentledger.tenants.facade_async import AsyncKeys, AsyncTenants

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


class AsyncModules:
    """The modules reachable through a tenant-bound handle or an open transaction.

    ``run`` runs each operation; ``db``, when given, lets the tasks module start workers
    (which need connections of their own, so an open transaction passes none); ``recorder``
    counts touched memory reads for a later write (an open transaction passes none: its
    touches are written with it).
    """

    def __init__(
        self,
        tenant_id: str,
        run: AsyncRunner,
        db: AsyncDatabase | None = None,
        recorder: AsyncAccessRecorder | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self._run_app_sql = run
        self.keys = AsyncKeys(run)
        self.events = AsyncEvents(run)
        self.decisions = AsyncDecisions(run)
        self.runs = AsyncRuns(run)
        self.alerts = AsyncAlerts(run)
        self.agents = AsyncAgents(run)
        self.tasks = AsyncTasks(run, db, tenant_id, AsyncTransaction)
        self.memory = AsyncMemory(
            run,
            recorder=recorder,
            tenant=tenant_id,
            tasks=self.tasks,
            extensions=None if db is None else (lambda: db.extensions),
        )
        self.sessions = AsyncSessions(run)
        self.catalog = AsyncCatalog(run)
        self.checkpoints = AsyncCheckpoints(run)
        self.expiry = AsyncExpiry(run)
        self.cases = AsyncCases(run)

    async def execute(self, sql: LiteralString, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement of the application's own (its tables, docs/app-tables.md) in
        this tenant's binding; returns the number of rows it changed.

        ``sql`` is literal text with ``%(name)s`` placeholders, filled from ``params`` (a
        literal percent sign is ``%%``). Row-level security on the application's tenant
        tables shows and accepts only this tenant's rows. Errors are LedgerErrors.
        """
        result: int = await self._run_app_sql(run_sql(sql, params, "rowcount"))
        return result

    async def fetch(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Like :meth:`execute`; returns every row, as a dict by column name."""
        rows: list[dict[str, Any]] = await self._run_app_sql(run_sql(sql, params, "all"))
        return rows

    async def fetch_one(
        self, sql: LiteralString, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Like :meth:`execute`; returns the first row, or None."""
        row: dict[str, Any] | None = await self._run_app_sql(run_sql(sql, params, "one"))
        return row

    async def fetch_value(self, sql: LiteralString, params: Mapping[str, Any] | None = None) -> Any:
        """Like :meth:`execute`; returns the first column of the first row, or None."""
        return await self._run_app_sql(run_sql(sql, params, "scalar"))


class AsyncTransaction(AsyncModules):
    """Operations of several modules committed together, or not at all."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session.binding.tenant or "", session.run)
        self._session = session


class AsyncTenantScope(AsyncModules):
    """Everything one tenant owns; each call runs in its own transaction bound to it.

    With ``read_your_writes``, and a standby configured, this handle's reads see its own
    writes: they run on the standby only once it has replayed them (docs/scaling.md).
    """

    def __init__(
        self,
        db: AsyncDatabase,
        binding: Binding,
        *,
        read_your_writes: bool = False,
        recorder: AsyncAccessRecorder | None = None,
    ) -> None:
        super().__init__(binding.tenant or "", self._run, db, recorder)
        self._db = db
        self._binding = binding
        self._mark = WriteMark() if read_your_writes else None

    async def _run(self, op: Op[T]) -> T:
        return await self._db.run(op, self._binding, mark=self._mark)

    def follow(
        self,
        subscriber: str | None = None,
        *,
        after: int | None = None,
        types: Sequence[str] | None = None,
        poll_interval: float = 1.0,
    ) -> AsyncFollower:
        """Follow the tenant's event log (``async with scope.follow("projector") as f``):
        from the subscriber's checkpoint, or ``after`` a position when given."""
        return AsyncFollower(
            self._db,
            self._binding.tenant or "",
            subscriber,
            after=after,
            types=types,
            poll_interval=poll_interval,
        )

    def alert_wakeups(self) -> AsyncSubscription:
        """Wake-ups when one of the tenant's alerts is raised (``async with
        scope.alert_wakeups() as w``, then ``await w.wait(timeout)``), on the connection the
        process's waiters share. A hint to read the pending alerts now; notifications can be
        lost across a reconnect, so read now and then as well."""
        return self._db.wakeups.subscribe(ALERTS_CHANNEL, self._binding.tenant)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncTransaction]:
        """``async with scope.transaction() as tx:`` runs several operations atomically."""
        async with self._db.transaction(self._binding, mark=self._mark) as session:
            yield AsyncTransaction(session)


class AsyncLedger(AsyncScoped):
    """agentledger for asyncio code.

    ``AsyncLedger()`` uses the embedded PostgreSQL (started if needed) unless the settings
    name a ``database_url``; ``open()`` applies pending migrations unless told not to.
    """

    def __init__(self, settings: Settings | None = None, *, migrate: bool = True) -> None:
        self.settings = settings if settings is not None else Settings.build()
        self._migrate = migrate
        self._db: AsyncDatabase | None = None
        self._recorder: AsyncAccessRecorder | None = None
        self._locations: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, *, migrate: bool = True, **overrides: Any) -> Self:
        """Settings from ``AGENTLEDGER_*`` / ``DATABASE_URL``, with keyword overrides."""
        return cls(Settings.from_env(**overrides), migrate=migrate)

    async def open(self) -> Self:
        if self._db is not None:
            return self
        locations = await asyncio.to_thread(app_migrations.registered, self.settings)
        url = await asyncio.to_thread(owner_url, self.settings)
        if self._migrate:
            try:
                await asyncio.to_thread(_migrate_if_behind, url, self.settings, locations)
            except Exception as exc:
                # With a spool, a ledger opens while the database is down; writes wait.
                if self.settings.spool_dir is None or not _is_outage(exc):
                    raise
        db = AsyncDatabase(self.settings, url)
        await db.open()
        self._db = db
        interval = self.settings.access_flush_interval
        self._recorder = AsyncAccessRecorder(db, interval) if interval > 0 else None
        self._locations = locations
        return self

    async def close(self) -> None:
        if self._db is not None:
            if not self._db.forked:  # the counts are the parent's to write
                await self.flush_access()
            await self._db.close()
            self._db = None

    async def flush_access(self) -> int:
        """Write the touched memory reads counted so far (memory/access.py) now; how many
        entities were updated."""
        return 0 if self._recorder is None else await self._recorder.flush()

    @property
    def db(self) -> AsyncDatabase:
        if self._db is None:
            raise RuntimeError("the ledger is not open: call open() or use it as a context manager")
        return self._db

    @property
    def tenants(self) -> AsyncTenants:
        """Tenant administration (the platform scope)."""
        return AsyncTenants(self.db)

    @property
    def platform_tasks(self) -> AsyncPlatformTasks[AsyncTransaction]:
        """Cross-tenant, fair claims and workers for a platform worker (the platform scope)."""
        return AsyncPlatformTasks(self.db, AsyncTransaction)

    @property
    def platform_catalog(self) -> AsyncPlatformCatalog:
        """The global catalog (the platform scope): documents and schemas every tenant
        reads, written only here."""
        return AsyncPlatformCatalog(self.db)

    def tenant(self, tenant_id: str, *, read_your_writes: bool = False) -> AsyncTenantScope:
        """A handle bound to one tenant: ``ledger.tenant("acme").keys.list()``.

        Reads may run on a standby (``read_database_url``); ``read_your_writes=True``
        makes this handle's reads see the writes it made (keep the handle to keep that).
        """
        return AsyncTenantScope(
            self.db,
            Binding.to_tenant(tenant_id),
            read_your_writes=read_your_writes,
            recorder=self._recorder,
        )

    async def replay_spool(self) -> int:
        """Apply what the spool holds (in order, exactly once); returns how many applied."""
        return len(await self.db.replay())

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

    async def health(self) -> Health:
        db = self.db
        standby = None if db.standby is None else await db.ping(standby=True)
        if not await db.ping():
            return Health(
                database=False,
                migrations_current=False,
                extensions=db.extensions,
                standby=standby,
            )
        found = await asyncio.to_thread(migrate.status, db.url, self._locations)
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
