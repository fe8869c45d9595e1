# Generated from src/agentledger/ledger_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Ledger: the async entry point that binds modules to a tenant.

``Ledger`` (ledger_sync.py) is generated from this file by scripts/async_to_sync.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from agentledger.config import Settings
from agentledger.db import migrate
from agentledger.db.binding import Binding
from agentledger.db.connect import owner_url
from agentledger.db.runner_sync import Database, Runner, Session
from agentledger.db.statements import Op
from agentledger.memory.facade_sync import Memory
from agentledger.tenants.facade_sync import Keys, Tenants

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Health:
    database: bool
    migrations_current: bool
    extensions: frozenset[str]


class Modules:
    """The modules reachable through a tenant-bound handle or an open transaction."""

    def __init__(self, tenant_id: str, run: Runner) -> None:
        self.tenant_id = tenant_id
        self.keys = Keys(run)
        self.memory = Memory(run)


class Transaction(Modules):
    """Operations of several modules committed together, or not at all."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.binding.tenant or "", session.run)
        self._session = session


class TenantScope(Modules):
    """Everything one tenant owns; each call runs in its own transaction bound to it."""

    def __init__(self, db: Database, binding: Binding) -> None:
        self._db = db
        self._binding = binding
        super().__init__(binding.tenant or "", self._run)

    def _run(self, op: Op[T]) -> T:
        return self._db.run(op, self._binding)

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
            _migrate_if_behind(url, self.settings.app_role)
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

    def tenant(self, tenant_id: str) -> TenantScope:
        """A handle bound to one tenant: ``ledger.tenant("acme").keys.list()``."""
        return TenantScope(self.db, Binding.to_tenant(tenant_id))

    def health(self) -> Health:
        db = self.db
        up = db.ping()
        current = up and migrate.is_current(db.url)
        return Health(database=up, migrations_current=current, extensions=db.extensions)


def _migrate_if_behind(url: str, app_role: str) -> None:
    if not migrate.is_current(url):
        migrate.upgrade(url, app_role=app_role)
