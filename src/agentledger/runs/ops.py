"""Run log operations: start, finish, read, statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger import keyset, validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.ids import new_id
from agentledger.keyset import ListPosition
from agentledger.records import found, from_row
from agentledger.runs.records import RUN_LIFECYCLE, Run, RunStat

Q = Queries.beside(__file__)
MAX_CONTENT = 20_000  # characters kept of a trigger's content
MAX_INPUT = 10_000_000  # characters accepted before truncation
MAX_PAGE = 1000


def truncate(content: str, limit: int = MAX_CONTENT) -> str:
    """``content`` cut to ``limit`` characters, ending with a marker saying how many went."""
    if len(content) <= limit:
        return content
    dropped = len(content) - limit
    while True:  # the marker's own length shifts the count; this settles in two rounds
        marker = f"\n…[truncated {dropped} characters]"
        kept = limit - len(marker)
        if len(content) - kept == dropped:
            return content[:kept] + marker
        dropped = len(content) - kept


@operation(idempotent=True, spoolable=True)
def start(
    trigger_type: str,
    *,
    source_id: str | None = None,
    content: str | None = None,
    priority: str | None = None,
    entity_ref: str | None = None,
    metadata: dict[str, Any] | None = None,
    id: UUID | str | None = None,
    at: datetime | None = None,
) -> Gen[Run]:
    """Log a run as started. Content longer than MAX_CONTENT characters is kept truncated,
    with a marker. A repeated ``id`` returns the run already logged (Conflict when that run
    has another trigger type); the façade makes the id when none is given, so a retry or a
    spool replay repeats the same run. ``at`` dates an imported run (``started_at``;
    anywhere in the past, at most ``validation.CLOCK_SKEW`` ahead; default now)."""
    run_id = new_id() if id is None else v.uuid("id", id)
    trigger = v.text("trigger_type", trigger_type, max_len=100)
    text = v.optional_text("content", content, max_len=MAX_INPUT)
    row = yield Q.insert_run.one(
        id=run_id,
        trigger_type=trigger,
        source_id=v.optional_text("source_id", source_id, max_len=500),
        content=None if text is None else truncate(text),
        priority=v.optional_text("priority", priority, max_len=50),
        entity_ref=v.optional_text("entity_ref", entity_ref, max_len=500),
        metadata=v.json_object("metadata", metadata, max_bytes=100_000),
        at=v.aware_datetime("at", at, not_future=True),
    )
    if row is None:
        row = yield Q.get_run.one(id=run_id)
        if row is None or row["trigger_type"] != trigger:
            raise Conflict(f"run {run_id} was already logged for another trigger", field="id")
    return from_row(Run, row)


@operation(idempotent=True, spoolable=True)
def finish(
    run_id: UUID | str,
    *,
    error: str | None = None,
    response_id: str | None = None,
    duration_ms: int | None = None,
    tokens_in: int = 0,
    tokens_out: int = 0,
    at: datetime | None = None,
) -> Gen[Run]:
    """Finish a started run: failed when ``error`` is given, else succeeded. ``at`` dates an
    imported finish (``finished_at``; not before the run started, at most
    ``validation.CLOCK_SKEW`` ahead; default now). The duration defaults to the time since
    the start (to ``at`` when given). Repeating the same finish (same outcome, error,
    response id, tokens and, when given, duration) returns the run as finished, so a retry
    or a spool replay is harmless; any other second finish is an IllegalTransition."""
    rid = v.uuid("run_id", run_id)
    action = "fail" if error is not None else "succeed"
    given = {
        "status": RUN_LIFECYCLE.target(action),
        "error": v.optional_text("error", error, max_len=MAX_CONTENT),
        "response_id": v.optional_text("response_id", response_id, max_len=500),
        "tokens_in": v.integer("tokens_in", tokens_in, low=0, high=2**53),
        "tokens_out": v.integer("tokens_out", tokens_out, low=0, high=2**53),
    }
    if duration_ms is not None:
        duration_ms = v.integer("duration_ms", duration_ms, low=0, high=2**53)
    moment = v.aware_datetime("at", at, not_future=True)
    row = yield Q.finish_run.one(
        id=rid,
        target=given["status"],
        sources=RUN_LIFECYCLE.sources(action),
        error=given["error"],
        response_id=given["response_id"],
        duration_ms=duration_ms,
        tokens_in=given["tokens_in"],
        tokens_out=given["tokens_out"],
        at=moment,
    )
    if row is None:
        current = yield Q.get_run.one(id=rid)
        if current is None:
            raise NotFound(f"run {run_id} does not exist", field="run_id")
        same = all(current[k] == x for k, x in given.items()) and (
            duration_ms is None or current["duration_ms"] == duration_ms
        )
        if not same:
            RUN_LIFECYCLE.check(action, current["status"])  # raises: finished otherwise
            if moment is not None:  # still started: the guard refused the time
                raise InvalidInput(
                    f"at ({moment.isoformat()}) is before run {rid} started "
                    f"({current['started_at'].isoformat()})",
                    field="at",
                )
        row = current
    return from_row(Run, row)


@operation(writes=False)
def get(run_id: UUID | str) -> Gen[Run]:
    row = yield Q.get_run.one(id=v.uuid("run_id", run_id))
    return found(Run, row, f"run {run_id}", field="run_id")


@operation(writes=False)
def list_(
    *,
    status: str | None = None,
    trigger_type: str | None = None,
    before: Run | ListPosition | UUID | str | None = None,
    limit: int = 100,
) -> Gen[list[Run]]:
    """Newest first (by ``started_at``, then id, both descending). For the next page pass
    the last run of this one (or its ListPosition) as ``before``: the page goes on after
    that position, even when the run has since been deleted. An id as ``before`` reads
    the position from its run: NotFound naming ``before`` when it is gone."""
    params = {
        "status": None if status is None else v.choice("status", status, RUN_LIFECYCLE.states),
        "trigger_type": v.optional_text("trigger_type", trigger_type, max_len=100),
        "limit": v.integer("limit", limit, low=1, high=MAX_PAGE),
    }
    key = yield from keyset.position(
        before, field="before", record=Run, at="started_at", lookup=Q.get_run
    )
    rows = yield Q.list_runs.all(
        **params,
        before_at=None if key is None else key[0],
        before_id=None if key is None else key[1],
    )
    return [from_row(Run, row) for row in rows]


@operation(writes=False)
def stats(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    trigger_type: str | None = None,
) -> Gen[list[RunStat]]:
    """Per trigger type and UTC day: count, outcomes, p50/p95 duration, tokens."""
    rows = yield Q.run_stats.all(
        since=v.aware_datetime("since", since),
        until=v.aware_datetime("until", until),
        trigger_type=v.optional_text("trigger_type", trigger_type, max_len=100),
    )
    return [from_row(RunStat, row) for row in rows]
