"""One exception hierarchy for everything agentledger raises to its callers.

Each class's docstring is its default message and ``status`` is the HTTP status the API
answers with. Driver errors are translated in ``agentledger.db.translate`` by SQLSTATE and
constraint name, never by message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """agentledger failed."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "ledger-error"

    def __init__(self, message: str | None = None, *, field: str | None = None, **detail: Any):
        self.message = message or (self.__doc__ or "").strip()
        self.field = field
        self.detail = detail
        super().__init__(self.message)


class ConfigError(LedgerError):
    """A setting has an invalid value."""

    code = "config-error"


class InvalidInput(LedgerError):
    """The input is not valid."""

    status = 422
    code = "invalid-input"


class MalformedRequest(InvalidInput):
    """A request header or parameter is malformed."""

    status = 400
    code = "malformed-request"


class NotFound(LedgerError):
    """The object does not exist."""

    status = 404
    code = "not-found"


class Conflict(LedgerError):
    """The change conflicts with the current state."""

    status = 409
    code = "conflict"


class VersionConflict(Conflict):
    """The stream or object is not at the expected version."""

    code = "version-conflict"


class IllegalTransition(Conflict):
    """The action is not allowed in the current state."""

    code = "illegal-transition"


class LeaseLost(Conflict):
    """The task's lease was lost to another claim: nothing of this transaction was committed."""

    code = "lease-lost"


class TenantMismatch(LedgerError):
    """The object belongs to another tenant."""

    status = 404
    code = "tenant-mismatch"


class TenantInactive(LedgerError):
    """The tenant is not active."""

    status = 403
    code = "tenant-inactive"


class PermissionDenied(LedgerError):
    """The caller may not do this."""

    status = 403
    code = "permission-denied"


class MissingExtension(LedgerError):
    """A PostgreSQL extension this feature needs is not installed on the server."""

    status = 501
    code = "missing-extension"


class Unavailable(LedgerError):
    """The database is unavailable."""

    status = 503
    code = "unavailable"


class Spooled(LedgerError):
    """The database is unavailable: the write was kept in the local spool and will be
    applied, exactly once and in order, when it returns."""

    status = 202
    code = "spooled"


class QueryTimeout(Unavailable):
    """The statement ran longer than the statement timeout."""

    code = "timeout"


__all__ = [
    "ConfigError",
    "Conflict",
    "IllegalTransition",
    "InvalidInput",
    "LeaseLost",
    "LedgerError",
    "MissingExtension",
    "NotFound",
    "PermissionDenied",
    "QueryTimeout",
    "Spooled",
    "TenantInactive",
    "TenantMismatch",
    "Unavailable",
    "VersionConflict",
]
