"""Run the Alembic revisions on the owner connection, under an advisory lock."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE, VERSION_TABLE

# Two `migrate` runs at once: the second waits for the first, then finds nothing to do.
ADVISORY_LOCK_KEY = 0x6167_656E_746C_6467  # "agentldg"


def alembic_config(app_role: str = DEFAULT_APP_ROLE) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "agentledger.db:migrations")
    cfg.attributes["app_role"] = app_role
    return cfg


def heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


@contextmanager
def _locked(url: str) -> Iterator[Connection]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "heads", *, app_role: str = DEFAULT_APP_ROLE) -> None:
    with _locked(url) as conn:
        cfg = alembic_config(app_role)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def downgrade(url: str, revision: str, *, app_role: str = DEFAULT_APP_ROLE) -> None:
    with _locked(url) as conn:
        cfg = alembic_config(app_role)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()


def current(url: str) -> set[str]:
    """The revisions the database is at (empty before the first migration)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return set(ctx.get_current_heads())
    finally:
        engine.dispose()


def is_current(url: str) -> bool:
    return current(url) == heads()


def upgrade_sql(revision: str = "heads", *, app_role: str = DEFAULT_APP_ROLE) -> str:
    """The SQL an upgrade from empty would run, without touching any database."""
    buffer = io.StringIO()
    cfg = alembic_config(app_role)
    cfg.output_buffer = buffer
    command.upgrade(cfg, revision, sql=True)
    return buffer.getvalue()


def _engine(url: str) -> Engine:
    """An engine over one psycopg connection to ``url`` (a URL or any libpq conninfo)."""
    return create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool
    )
