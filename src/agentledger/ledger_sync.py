# Generated from src/agentledger/ledger_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Ledger: the async entry point that binds modules to a tenant.

``Ledger`` (ledger_sync.py) is generated from this file by scripts/async_to_sync.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from agentledger.agents.facade_sync import Agents
from agentledger.alerts.facade_sync import Alerts
from agentledger.cases.facade_sync import Cases
from agentledger.config import Settings
from agentledger.db import migrate
from agentledger.db.binding import Binding
from agentledger.db.connect import owner_url
from agentledger.db.database_sync import Database, Runner, Session
from agentledger.db.spool import SpoolStatus
from agentledger.db.statements import Op
from agentledger.db.translate import is_connection_failure
from agentledger.decisions.facade_sync import Decisions
from agentledger.events.facade_sync import Events
from agentledger.events.follow_sync import Follower
from agentledger.memory.facade_sync import Memory
from agentledger.runs.facade_sync import Runs
from agentledger.sessions.facade_sync import Sessions
from agentledger.tasks.facade_sync import PlatformTasks, Tasks
from agentledger.tenants.facade_sync import Keys, Tenants

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Health:
    database: bool
    migrations_current: bool
    extensions: frozenset[str]


class Modules:
    """The modules reachable through a tenant-bound handle or an open transaction.

    ``run`` runs each operation; ``db``, when given, lets the tasks module start workers
    (which need connections of their own, so an open transaction passes none).
    """

    def __init__(self, tenant_id: str, run: Runner, db: Database | None = None) -> None:
        self.tenant_id = tenant_id
        self.keys = Keys(run)
        self.events = Events(run)
        self.decisions = Decisions(run)
        self.runs = Runs(run)
        self.alerts = Alerts(run)
        self.agents = Agents(run)
        self.tasks = Tasks(run, db, tenant_id, Transaction)
        self.memory = Memory(run)
        self.sessions = Sessions(run)
        self.cases = Cases(run)


class Transaction(Modules):
    """Operations of several modules committed together, or not at all."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.binding.tenant or "", session.run)
        self._session = session


class TenantScope(Modules):
    """Everything one tenant owns; each call runs in its own transaction bound to it."""

    def __init__(self, db: Database, binding: Binding) -> None:
        super().__init__(binding.tenant or "", self._run, db)
        self._db = db
        self._binding = binding

    def _run(self, op: Op[T]) -> T:
        return self._db.run(op, self._binding)

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

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``with scope.transaction() as tx:`` runs several operations atomically."""
        with self._db.transaction(self._binding) as session:
            yield Transaction(session)


class Ledger:
    """agentledger for asyncio code.

    ``Ledger()`` uses the embedded PostgreSQL (started if needed) unless the settings
    name a ``database_url``; ``open()`` applies pending migrations unless told not to.
    """

    def __init__(self, settings: Settings | None = None, *, migrate: bool = True) -> None:
        self.settings = settings if settings is not None else Settings.build()
        self._migrate = migrate
        self._db: Database | None = None

    @classmethod
    def from_env(cls, *, migrate: bool = True, **overrides: Any) -> Self:
        """Settings from ``AGENTLEDGER_*`` / ``DATABASE_URL``, with keyword overrides."""
        return cls(Settings.from_env(**overrides), migrate=migrate)

    def open(self) -> Self:
        if self._db is not None:
            return self
        url = owner_url(self.settings)
        if self._migrate:
            try:
                _migrate_if_behind(url, self.settings.app_role)
            except Exception as exc:
                # With a spool, a ledger opens while the database is down; writes wait.
                if self.settings.spool_dir is None or not _is_outage(exc):
                    raise
        db = Database(self.settings, url)
        db.open()
        self._db = db
        return self

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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

    def tenant(self, tenant_id: str) -> TenantScope:
        """A handle bound to one tenant: ``ledger.tenant("acme").keys.list()``."""
        return TenantScope(self.db, Binding.to_tenant(tenant_id))

    def replay_spool(self) -> int:
        """Apply what the spool holds (in order, exactly once); returns how many applied."""
        return len(self.db.replay())

    def spool_status(self) -> SpoolStatus | None:
        spool = self.db.spool
        return None if spool is None else spool.status()

    def pool_stats(self) -> dict[str, int]:
        """Connection pool counters (size, available, waiting...) for metrics."""
        return dict(self.db.pool.get_stats())

    def health(self) -> Health:
        db = self.db
        up = db.ping()
        current = up and migrate.is_current(db.url)
        return Health(database=up, migrations_current=current, extensions=db.extensions)


def _is_outage(exc: BaseException) -> bool:
    return is_connection_failure(exc) or is_connection_failure(exc.__cause__ or exc)


def _migrate_if_behind(url: str, app_role: str) -> None:
    if not migrate.is_current(url):
        migrate.upgrade(url, app_role=app_role)
