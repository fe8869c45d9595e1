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


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
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
