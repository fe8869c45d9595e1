"""One exception hierarchy for everything agentledger raises to its callers.

Each class's docstring is its default message; its header names ``status``, the HTTP
status the API answers with (its parent's when absent), and ``code``, the problem's stable
name. Driver errors are translated in ``agentledger.db.translate`` by SQLSTATE and
constraint name, never by message text.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID


class LedgerError(Exception):
    """agentledger failed."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "ledger-error"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None) -> None:
        """A subclass names its HTTP status (else its parent's) and its code in its header."""
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str | None = None, *, field: str | None = None, **detail: Any):
        self.message = message or (self.__doc__ or "").strip()
        self.field = field
        self.detail = detail
        super().__init__(self.message)


class ConfigError(LedgerError, code="config-error"):
    """A setting has an invalid value."""


class InvalidInput(LedgerError, status=422, code="invalid-input"):
    """The input is not valid."""


class MalformedRequest(InvalidInput, status=400, code="malformed-request"):
    """A request header or parameter is malformed."""


class NotFound(LedgerError, status=404, code="not-found"):
    """The object does not exist."""


class Conflict(LedgerError, status=409, code="conflict"):
    """The change conflicts with the current state."""


class VersionConflict(Conflict, code="version-conflict"):
    """The stream or object is not at the expected version."""


class IllegalTransition(Conflict, code="illegal-transition"):
    """The action is not allowed in the current state."""


class LeaseLost(Conflict, code="lease-lost"):
    """The task's lease was lost to another claim: nothing of this transaction was committed."""


class TenantMismatch(LedgerError, status=404, code="tenant-mismatch"):
    """The object belongs to another tenant."""


class TenantInactive(LedgerError, status=403, code="tenant-inactive"):
    """The tenant is not active."""


class PermissionDenied(LedgerError, status=403, code="permission-denied"):
    """The caller may not do this."""


class MissingExtension(LedgerError, status=501, code="missing-extension"):
    """A PostgreSQL extension this feature needs is not installed on the server."""


class Unavailable(LedgerError, status=503, code="unavailable"):
    """The database is unavailable."""


class Spooled(LedgerError, status=202, code="spooled"):
    """The database is unavailable: the write is kept in the local spool, to be applied."""

    # ``entry_id`` names the spool entry; ``record_id`` the id of the record the write makes
    # or changes (the client-side id it was given, or the one the façade made for it, so a
    # caller can finish a run or answer a decision it has not seen stored), None for an
    # operation that takes no id (a memory upsert by natural key). Both are in ``detail``.

    @property
    def entry_id(self) -> str | None:
        entry: str | None = self.detail.get("entry_id")
        return entry

    @property
    def record_id(self) -> UUID | str | None:
        record: UUID | str | None = self.detail.get("record_id")
        return record

    def naming(self, record_id: UUID | str | None) -> Spooled:
        """This error, naming ``record_id`` as the spooled record's (in its message too)."""
        if record_id is not None and self.detail.get("record_id") is None:
            self.detail["record_id"] = record_id
            self.message = f"{self.message} (the record's id is {record_id})"
            self.args = (self.message,)
        return self


class QueryTimeout(Unavailable, code="timeout"):
    """The statement ran longer than the statement timeout."""


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
