"""Request and response bodies at the HTTP edge (pydantic), with OpenAPI examples."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agentledger.validation import CLOCK_SKEW

T = TypeVar("T")

# The description of every write's optional fixed timestamp (docs/backdating.md).
AT_HELP = (
    "When this happened, for imported history: an ISO 8601 time with its offset, in the past "
    f"or at most {CLOCK_SKEW.total_seconds() / 60:g} minutes ahead (default now). It dates "
    "the record, never its order in a feed."
)


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list; pass ``next_cursor`` back as ``cursor``."""

    items: list[T]
    next_cursor: str | None = Field(default=None, examples=["eyJpZCI6ImFjbWUifQ"])


class Purged(BaseModel):
    """How many rows a bulk deletion removed."""

    deleted: int


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", examples=["acme"])
    name: str | None = Field(default=None, max_length=200, examples=["Acme Corp"])
    metadata: dict[str, Any] = Field(default_factory=dict, examples=[{"plan": "pro"}])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["admin", "writer", "reader"] = Field(examples=["writer"])
    name: str = Field(default="", max_length=200, examples=["ci pipeline"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: bool
    migrations_current: bool
    extensions: list[str]
    missing_revisions: list[str] = Field(
        default=[], description="Revisions of the core or the application not yet applied."
    )
    unknown_revisions: list[str] = Field(
        default=[], description="Applied revisions that no registered migrations folder holds."
    )
    detail: str | None = Field(default=None, description="Why the server is not ready.")
    standby: bool | None = Field(
        default=None,
        description="Whether the read replica answers (null: none configured). Reads fall "
        "back to the primary while it does not, so it does not decide readiness.",
    )


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, and which field when the input is at fault."""

    type: str = Field(examples=["https://agentledger.dev/problems/invalid-input"])
    title: str
    status: int
    detail: str
    field: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


class SpooledProblem(Problem):
    """202: the database is unreachable, and the write waits in the server's spool, to be
    applied exactly once when it is back (docs/spool.md). Not an error: the write is
    accepted, not yet stored; it is not readable until then."""

    type: str = Field(examples=["https://agentledger.dev/problems/spooled"])
    status: int = Field(examples=[202])
    entry_id: str = Field(description="The spool entry that holds the write.")
    record_id: str | None = Field(
        default=None,
        description="The id of the record the write makes: the `id` / `event_id` sent, or the "
        "one the server made for it. Send it again (or use it to finish the run, answer the "
        "decision) and the record is the same one, never a second. Null when the write takes "
        "no id (a memory upsert, keyed by its natural key; a finish or feedback, whose path "
        "names the record).",
        examples=["0190f4c2-7a4e-7d36-9b8a-3f1c2d4e5f60"],
    )


def _problem(description: str, model: type[Problem] = Problem) -> dict[str, Any]:
    return {
        "model": model,
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
            }
        },
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Missing, unknown or revoked API key"),
    403: _problem("The key's role or the tenant's status does not allow this"),
    404: _problem("No such object for this tenant"),
    409: _problem("Conflicts with the current state"),
    413: _problem("The body is too large"),
    422: _problem("The input is not valid; `field` names it"),
    429: _problem("Over the key's rate limit (when one is set); see Retry-After"),
    501: _problem("A PostgreSQL extension the feature needs is not installed (e.g. pgvector)"),
    503: _problem("The database is unavailable"),
}

# What a write that may wait in the spool answers besides ERRORS and its own success: the
# operations marked spoolable (runs.start / finish, decisions.record / record_feedback,
# alerts.raise_, events.append_fields, memory.upsert_keyed) on a server with a spool.
SPOOLED: dict[int | str, dict[str, Any]] = {
    202: _problem(
        "The database is unreachable: the write is kept in the server's spool (only when "
        "`AGENTLEDGER_SPOOL_DIR` is set), to be applied exactly once when it is back; "
        "`entry_id` names the entry, `record_id` the record's id",
        SpooledProblem,
    ),
}

# What a server-sent event stream (events, alerts) answers besides ERRORS: its 200 is a
# text/event-stream, and a Last-Event-ID that is none of the stream's ids is 400.
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `id: <resume position>`, `event: <type>`, "
        "`data: <JSON>` per event, and `:` comment lines (keep-alives)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    400: _problem("A malformed Last-Event-ID; `field` names the header"),
}
