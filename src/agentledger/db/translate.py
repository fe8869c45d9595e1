"""Translate driver errors into the LedgerError hierarchy: by SQLSTATE and constraint name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolTimeout

from agentledger import errors
from agentledger.config import password_in, redacted

# Our own SQL functions raise these SQLSTATEs (class "AL" is unused by PostgreSQL).
CUSTOM_STATES: dict[str, type[errors.LedgerError]] = {
    "ALNF0": errors.NotFound,
    "ALTI0": errors.TenantInactive,
    "ALVC0": errors.VersionConflict,
    "ALIT0": errors.IllegalTransition,
    "ALCF0": errors.Conflict,
    "ALII0": errors.InvalidInput,
    "ALMX0": errors.MissingExtension,
}


# SQLSTATE class 53, insufficient resources: what the server ran out of.
RESOURCES: Mapping[str, str] = {
    "53100": "disk space",
    "53200": "memory",
    "53300": "connections",
    "53400": "a configured limit",
}


@dataclass(frozen=True, slots=True)
class Constraint:
    """How a violation of one named constraint reads to the caller."""

    error: type[errors.LedgerError]
    message: str
    field: str | None = None


# The constraints whose violation a caller can cause and should read in its own terms, by
# the names the migrations give them (a test checks that each exists). Others fall back to
# the generic translation by SQLSTATE.
CONSTRAINTS: Mapping[str, Constraint] = {
    # decisions
    "decisions_run_fk": Constraint(
        errors.NotFound, "the decision's run does not exist", field="run_id"
    ),
    # alerts
    "alerts_run_fk": Constraint(errors.NotFound, "the alert's run does not exist", field="run_id"),
    # memory
    "memory_relationships_from_fk": Constraint(
        errors.NotFound,
        "the relationship's from entity does not exist in this tenant",
        field="from_id",
    ),
    "memory_relationships_to_fk": Constraint(
        errors.NotFound,
        "the relationship's to entity does not exist in this tenant",
        field="to_id",
    ),
    "memory_relationships_not_self": Constraint(
        errors.InvalidInput, "an entity cannot relate to itself"
    ),
    # cases
    "cases_status_fk": Constraint(
        errors.Conflict, "a status that still holds cases cannot be dropped", field="statuses"
    ),
    "cases_resolved_after_opened": Constraint(
        errors.InvalidInput, "a case cannot be resolved before it was opened", field="at"
    ),
    "memory_entities_session_fk": Constraint(
        errors.NotFound, "the entity's session does not exist in this tenant", field="session_id"
    ),
}


# libpq's refusals of a connection option's value (fe-connect.c: connectOptions2 and the
# first attempt's socket options), made before any server is reached and the same on every
# retry; psycopg raises them as "connection is bad: ..." without a SQLSTATE.
_BAD_OPTION = re.compile(
    r'invalid integer value "[^"]*" for connection option "'
    r'|invalid port number: "'
    r'|invalid "?\w+"? value: "'
    r"|could not match \d+ (?:host names|port numbers) to \d+"
    r'|invalid connection option "'
    r'|require_auth method "'
    r"|invalid SSL protocol version range"
    r'|value "[^"]*" invalid when \w+ support is not compiled in'
    r'|weak sslmode "'
)


def is_bad_conninfo(exc: BaseException) -> bool:
    """A connection libpq would not even attempt: an option of the URL it cannot use
    (``sslmode=bogus``, a port that is not a number). A setting to fix, never an outage."""
    if not isinstance(exc, psycopg.OperationalError) or exc.sqlstate is not None:
        return False
    line = _first_line(exc)
    return line.startswith("connection is bad: ") and _BAD_OPTION.search(line) is not None


def bad_conninfo(exc: BaseException, url: str | None = None) -> errors.ConfigError:
    """ConfigError naming ``database_url`` for a connection string libpq refused; the
    password of ``url`` (the one refused), wherever libpq quotes it, shows as ***."""
    reason = redacted(_first_line(exc).removeprefix("connection is bad: "))
    secret = password_in(url)
    if secret:
        reason = reason.replace(secret, "***")
    return errors.ConfigError(
        f"the database URL is not one libpq reads: {reason}", field="database_url"
    )


def is_connection_failure(exc: BaseException) -> bool:
    """True for failures of the connection itself (worth a retry), never for SQL errors
    nor for a connection string libpq refused."""
    if isinstance(exc, PoolTimeout):
        return True
    if is_bad_conninfo(exc):
        return False
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None:
            return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        return state.startswith("08") or state in {"57P01", "57P02", "57P03"}
    return isinstance(exc, ConnectionError)


def refused_connection(exc: BaseException, url: str | None = None) -> errors.LedgerError:
    """A connection attempt that failed, named by its cause. A connection string libpq
    cannot parse (a ProgrammingError without SQLSTATE, at connect time) or whose option
    values it refuses is ConfigError naming ``database_url`` (``url``'s password hidden).
    A pooler in transaction mode refuses the session options the library sends: that is a
    setting to change."""
    if is_bad_conninfo(exc) or (isinstance(exc, psycopg.ProgrammingError) and exc.sqlstate is None):
        return bad_conninfo(exc, url)
    if "unsupported startup parameter" in str(exc):
        return errors.ConfigError(
            f"{_first_line(exc)}: through a transaction-mode pooler (PgBouncer, RDS Proxy, "
            "a pooled endpoint) set AGENTLEDGER_POOLER=transaction",
            field="pooler",
        )
    return translate(exc)


def is_driver_error(exc: BaseException) -> bool:
    """Errors that come from the driver or the pool (everything else is the caller's own)."""
    return isinstance(exc, psycopg.Error | PoolTimeout | ConnectionError)


def translate(exc: BaseException, *, tenant: str | None = None) -> errors.LedgerError:
    """Map a driver exception to a LedgerError whose message names what is at fault."""
    if isinstance(exc, errors.LedgerError):
        return exc
    if is_bad_conninfo(exc):
        return bad_conninfo(exc)
    if is_connection_failure(exc):
        return errors.Unavailable(f"the database is unavailable: {_first_line(exc)}")
    if not isinstance(exc, psycopg.Error):
        return errors.LedgerError(str(exc))
    state = exc.sqlstate or ""
    diag = exc.diag
    message = diag.message_primary or _first_line(exc)
    if state in CUSTOM_STATES:
        return CUSTOM_STATES[state](message, field=diag.column_name)
    constraint = diag.constraint_name
    known = CONSTRAINTS.get(constraint) if constraint else None
    if known is not None:
        return known.error(known.message, field=known.field, constraint=constraint)
    if isinstance(exc, pg.ReadOnlySqlTransaction):
        return errors.TenantInactive(
            f"tenant {tenant!r} is suspended: it can read but not write"
            if tenant
            else "the transaction is read-only"
        )
    if isinstance(exc, pg.UniqueViolation):
        return errors.Conflict(f"already exists ({constraint}): {diag.message_detail or message}")
    if isinstance(exc, pg.ForeignKeyViolation):
        return errors.NotFound(f"a referenced object does not exist ({constraint})")
    if isinstance(exc, pg.CheckViolation | pg.NotNullViolation | pg.ExclusionViolation):
        return errors.InvalidInput(
            f"{message}{f' ({constraint})' if constraint else ''}", field=diag.column_name
        )
    if isinstance(exc, pg.InsufficientPrivilege):
        return errors.PermissionDenied(message)
    if isinstance(exc, pg.QueryCanceled):
        return errors.QueryTimeout(f"the statement was cancelled: {message}")
    if isinstance(exc, pg.SerializationFailure | pg.DeadlockDetected):
        return errors.Conflict(f"concurrent update, retry: {message}")
    if state.startswith("22"):
        return errors.InvalidInput(message, field=diag.column_name)
    if state.startswith("53"):
        # Insufficient resources: the server's trouble, not the caller's, and passing. The
        # server's own message names its files, which callers have no business seeing.
        what = RESOURCES.get(state, "resources")
        return errors.Unavailable(f"the database server is out of {what} ({state}); retry later")
    return errors.LedgerError(f"database error {state}: {message}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
