"""Run the Alembic revisions on the owner connection, under an advisory lock.

The core's revisions live in ``db/migrations/versions``. An application's own folders
(``locations``, resolved by ``db/app_migrations.py``) join them as further Alembic version
locations: one version table holds one graph, whose application branches ``depends_on``
the core revisions they need. An upgrade to the heads applies the core's heads first, then
everything else, in one locked run. With no locations everything works on the core alone.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from agentledger.db.app_migrations import CORE_VERSIONS
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE, VERSION_TABLE
from agentledger.db.translate import refused_connection
from agentledger.errors import ConfigError, InvalidInput

# Two `migrate` runs at once: the second waits for the first, then finds nothing to do.
ADVISORY_LOCK_KEY = 0x6167_656E_746C_6467  # "agentldg"
# The core's first revision, which every other revision stands on.
FOUNDATION = "0001"
REGISTER_HINT = (
    "register the folders that hold them (the migrations setting, AGENTLEDGER_MIGRATIONS, "
    "or an agentledger.migrations entry point)"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Status:
    """Where a database stands against the core's and the registered revisions."""

    applied: frozenset[str]
    """The version table's rows (Alembic keeps only the heads of what is applied)."""
    missing: tuple[str, ...]
    """Known revisions not applied, in the order an upgrade applies them (the core's
    first); empty when ``unknown`` is not, since then it cannot be told."""
    unknown: frozenset[str]
    """Applied revisions that neither the core nor a registered folder holds."""

    @property
    def current(self) -> bool:
        return not self.missing and not self.unknown

    def describe(self) -> str:
        """One line for an operator: current, or what is missing or unknown (a newer
        agentledger's revisions told apart from an application's unregistered ones)."""
        if self.unknown:
            newer = sorted(rev for rev in self.unknown if _newer_core(rev))
            others = sorted(self.unknown - set(newer))
            parts = []
            if newer:
                parts.append(
                    f"the database was migrated by a newer agentledger (its revisions "
                    f"{', '.join(newer)}): run this version on it only after upgrading "
                    "agentledger, or take the database back with the newer version's "
                    "`agentledger migrate --down`"
                )
            if others:
                parts.append(
                    f"the database holds revisions this process does not know: "
                    f"{', '.join(others)}; {REGISTER_HINT}"
                )
            return "; ".join(parts)
        if self.missing:
            return f"revisions not applied: {', '.join(self.missing)}"
        return "current"


def alembic_config(app_role: str = DEFAULT_APP_ROLE, locations: Sequence[Path] = ()) -> Config:
    """The core's configuration; with ``locations``, their revisions join the core's."""
    cfg = Config()
    cfg.set_main_option("script_location", "agentledger.db:migrations")
    if locations:
        folders = (CORE_VERSIONS.resolve(), *locations)
        cfg.set_main_option("path_separator", "newline")
        # Option values are interpolated: a percent sign in a path is written twice.
        cfg.set_main_option(
            "version_locations", "\n".join(str(p).replace("%", "%%") for p in folders)
        )
    cfg.attributes["app_role"] = app_role
    return cfg


def heads(locations: Sequence[Path] = ()) -> set[str]:
    """The heads of the core's revisions, or of the core's and ``locations``' together."""
    return set(script_directory(locations).get_heads())


def script_directory(locations: Sequence[Path] = ()) -> ScriptDirectory:
    """The revisions of the core and ``locations``, read once per process.

    ConfigError when the registered revisions reuse an id or do not form a graph (a
    ``down_revision`` or ``depends_on`` that no folder holds)."""
    return _script(tuple(locations))


@functools.lru_cache(maxsize=8)
def _script(locations: tuple[Path, ...]) -> ScriptDirectory:
    script = ScriptDirectory.from_config(alembic_config(locations=locations))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            script.get_heads()  # reads every revision file and builds the graph
        except (CommandError, RevisionError, KeyError) as exc:
            what = f"no folder holds revision {exc}" if isinstance(exc, KeyError) else exc
            raise ConfigError(
                f"the registered revisions do not form a graph: {what}", field="migrations"
            ) from exc
    twice = [str(w.message) for w in caught if "present more than once" in str(w.message)]
    if twice:
        raise ConfigError(
            f"revision ids are used twice among the core and {list(map(str, locations))}: "
            + "; ".join(twice),
            field="migrations",
        )
    return script


def status(url: str, locations: Sequence[Path] = ()) -> Status:
    """The database's revisions against the core's and ``locations``'."""
    with _connected(url) as conn:
        return _status(conn, tuple(locations))


def _status(conn: Connection, locations: tuple[Path, ...]) -> Status:
    script = _script(locations)
    applied = frozenset(_version_rows(conn))
    unknown = frozenset(rev for rev in applied if rev not in _ids(locations))
    if unknown:
        return Status(applied=applied, missing=(), unknown=unknown)
    pending = script.revision_map.iterate_revisions("heads", tuple(applied), implicit_base=True)
    in_order = [rev.revision for rev in reversed(list(pending))]
    core = _ids(())
    missing = [rev for rev in in_order if rev in core] + [r for r in in_order if r not in core]
    return Status(applied=applied, missing=tuple(missing), unknown=unknown)


def _newer_core(revision: str) -> bool:
    """A revision id of one of the core's branches (``audit_0042``) that this version does
    not have: a later agentledger's."""
    branch, _, number = revision.rpartition("_")
    return revision not in _ids(()) and number.isdigit() and branch in _core_branches()


@functools.lru_cache(maxsize=1)
def _core_branches() -> frozenset[str]:
    return frozenset(rev.rpartition("_")[0] for rev in _ids(()) if "_" in rev)


@functools.lru_cache(maxsize=8)
def _ids(locations: tuple[Path, ...]) -> frozenset[str]:
    return frozenset(rev.revision for rev in _script(locations).walk_revisions())


def current(url: str) -> set[str]:
    """The revisions the database is at (empty before the first migration)."""
    with _connected(url) as conn:
        return _version_rows(conn)


def is_current(url: str, locations: Sequence[Path] = ()) -> bool:
    """Every revision of the core and of ``locations`` is applied, and no other."""
    return status(url, locations).current


def upgrade(
    url: str,
    revision: str = "heads",
    *,
    app_role: str = DEFAULT_APP_ROLE,
    app_password: str | None = None,
    locations: Sequence[Path] = (),
) -> None:
    """Upgrade to ``revision``; to the heads, the core's heads are reached first. With
    ``app_password``, the app role (which the first revision creates) is given it.

    ConfigError, before anything runs, when the database holds revisions that neither the
    core nor ``locations`` know."""
    locations = tuple(locations)
    with _locked(url) as conn, _target("revision", revision):
        _refuse_unknown(conn, locations)
        cfg = alembic_config(app_role, locations)
        cfg.attributes["connection"] = conn
        if revision == "heads" and locations:
            for head in sorted(heads()):
                command.upgrade(cfg, head)
        command.upgrade(cfg, revision)
        conn.commit()
    if app_password is not None:
        set_app_password(url, app_role, app_password)


def set_app_password(url: str, app_role: str, password: str) -> None:
    """Give the app role ``password``, so that a server that asks for one (every managed
    service does) lets the application in. The server receives only the SCRAM verifier the
    client computes from it. ConfigError when the migration role may not change the role
    (its administrator then sets the password)."""
    if not password or "\x00" in password:
        raise ConfigError(
            "the app role's password is empty or holds a NUL byte", field="app_password"
        )
    with psycopg.connect(url, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), app_role.encode())
        statement = psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            psycopg.sql.Identifier(app_role), psycopg.sql.Literal(verifier.decode())
        )
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ConfigError(
                f"the migration role may not set the password of {app_role!r}; its "
                "administrator can (ALTER ROLE ... PASSWORD)",
                field="app_password",
            ) from exc


def downgrade(
    url: str, revision: str, *, app_role: str = DEFAULT_APP_ROLE, locations: Sequence[Path] = ()
) -> None:
    """Downgrade to ``revision`` (``base``, an id, or ``<branch label>@base`` for one
    application branch); revisions that depend on what goes are downgraded first.

    InvalidInput naming ``revision``, before anything runs, for a ``<label>@...`` whose
    label no branch carries (Alembic would read ``<typo>@base`` as base) and for any target
    but ``base`` itself whose downgrade would remove the foundation, ``0001`` (a core
    branch's ``<label>@base`` does: the core's branches all start from it)."""
    locations = tuple(locations)
    with _target("revision", revision):
        _known_branch(revision, locations)
    with _locked(url) as conn, _target("revision", revision):
        _refuse_unknown(conn, locations)
        _keep_foundation(conn, revision, locations)
        cfg = alembic_config(app_role, locations)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()


def _known_branch(revision: str, locations: tuple[Path, ...]) -> None:
    """``<label>@<target>``, absolute or relative, names a branch label or a revision id."""
    label, at, _ = revision.partition("@")
    if not at:
        return
    revisions = _script(locations).walk_revisions()
    labels = sorted({name for rev in revisions for name in rev.branch_labels})
    if label not in labels and label not in _ids(locations):
        raise InvalidInput(
            f"revision {revision!r}: no branch is labelled {label!r}; the labels are "
            f"{', '.join(labels)} (an application's label needs its folder registered)",
            field="revision",
        )


def _keep_foundation(conn: Connection, revision: str, locations: tuple[Path, ...]) -> None:
    """Refuse a downgrade whose plan removes the foundation, unless ``base`` was asked for."""
    if revision == "base":
        return
    applied = tuple(sorted(_version_rows(conn)))
    conn.commit()
    try:
        # What command.downgrade runs, from the heads it reads (typed as one, takes several).
        steps = _script(locations)._downgrade_revs(revision, applied)  # type: ignore[arg-type]
    except AssertionError as exc:  # Alembic's relative walk found no single revision
        raise InvalidInput(
            f"revision {revision!r} does not name one revision from the database's "
            f"({', '.join(applied) or 'base'}): name the revision to go back to",
            field="revision",
        ) from exc
    if FOUNDATION in {step.revision.revision for step in steps}:
        raise InvalidInput(
            f"revision {revision!r} would remove the foundation revision {FOUNDATION}, and "
            "with it every table of the core and of every application: to remove everything, "
            "downgrade to 'base'; to remove one application's tables, name its branch "
            "(<label>@base)",
            field="revision",
        )


def _refuse_unknown(conn: Connection, locations: tuple[Path, ...]) -> None:
    found = _status(conn, locations)
    conn.commit()
    if found.unknown:
        raise ConfigError(found.describe(), field="migrations")


def upgrade_sql(
    revision: str = "heads", *, app_role: str = DEFAULT_APP_ROLE, locations: Sequence[Path] = ()
) -> str:
    """The SQL an upgrade from empty would run, without touching any database (to the
    heads: the core's, then the rest from the core's heads)."""
    buffer = io.StringIO()
    locations = tuple(locations)
    if not locations or revision != "heads":
        cfg = alembic_config(app_role, locations)
        cfg.output_buffer = buffer
        with _target("revision", revision):
            command.upgrade(cfg, revision, sql=True)
        return buffer.getvalue()
    core = alembic_config(app_role)
    core.output_buffer = buffer
    command.upgrade(core, "heads", sql=True)
    cfg = alembic_config(app_role, locations)
    cfg.output_buffer = buffer
    script = ScriptDirectory.from_config(cfg)

    # What command.upgrade runs, from the core's heads (it can start from one revision only).
    def steps(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs("heads", rev)

    with EnvironmentContext(
        cfg,
        script,
        fn=steps,
        as_sql=True,
        starting_rev=tuple(sorted(heads())),
        destination_rev="heads",
    ):
        script.run_env()
    return buffer.getvalue()


@contextmanager
def _target(field: str, revision: str) -> Iterator[None]:
    """Alembic's refusal of a revision it cannot find or reach (an unknown id, a typo, an
    empty name) as InvalidInput naming ``field``: the revision is the caller's input. What
    ran inside is rolled back with its connection."""
    if not isinstance(revision, str) or not revision.strip():
        raise InvalidInput(f"{field} must name a revision, not {revision!r}", field=field)
    try:
        yield
    except (CommandError, RevisionError) as exc:
        raise InvalidInput(f"{field} {revision!r}: {exc}", field=field) from exc


@contextmanager
def _locked(url: str) -> Iterator[Connection]:
    with _connected(url) as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            conn.commit()


@contextmanager
def _connected(url: str) -> Iterator[Connection]:
    """One connection to ``url``: Unavailable when the server cannot be reached (its
    driver error the cause), ConfigError naming ``database_url`` when libpq cannot read
    the URL."""
    engine = _engine(url)
    try:
        try:
            conn = engine.connect()
        except DBAPIError as exc:
            cause = exc.orig or exc
            raise refused_connection(cause, url) from cause
        with conn:
            yield conn
    finally:
        engine.dispose()


def _version_rows(conn: Connection) -> set[str]:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return set(ctx.get_current_heads())


def _engine(url: str) -> Engine:
    """An engine over one psycopg connection to ``url`` (a URL or any libpq conninfo)."""
    return create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool
    )
