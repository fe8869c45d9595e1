"""A worker's cycle, without I/O: outcomes checked and packed for settle_and_claim, and its
result rows shaped into records."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.types import Bigints, Uuids
from agentledger.errors import InvalidInput
from agentledger.tasks.builders import row_builder
from agentledger.tasks.records import TASK_LIFECYCLE, Cycle, Outcome, Settled, Task

OUTCOME_ACTIONS = ("complete", "fail", "release")
# One encoder for every outcome (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(allow_nan=False).encode


def checked_outcome(outcome: Outcome, index: int) -> Outcome:
    """One outcome checked and converted (a plain completion of the right types skips this
    in ``settle_params``)."""
    at = f"outcomes[{index}]"
    if not isinstance(outcome, Outcome):
        raise InvalidInput(f"{at} must be an Outcome", field=at)
    v.choice(f"{at}.action", outcome.action, OUTCOME_ACTIONS)
    return Outcome(
        id=v.integer(f"{at}.id", outcome.id, low=1),
        token=v.uuid(f"{at}.token", outcome.token),
        action=outcome.action,
        output=None if outcome.output is None else v.json_object(f"{at}.output", outcome.output),
        error=v.optional_text(f"{at}.error", outcome.error, max_len=20_000),
        retry=v.flag(f"{at}.retry", outcome.retry),
    )


def settle_params(outcomes: Sequence[Outcome]) -> tuple[list[Outcome], dict[str, Any]]:
    """The outcomes checked, and settle_and_claim's parameters for them (also for running
    the statement directly): plain completions (no output) as two arrays, ids and tokens
    side by side; the other outcomes as one JSON object keyed by task id; the statuses of
    STATUS_PARAMS. An id given twice is settled by its first outcome. InvalidInput names
    the first bad outcome (``outcomes[i]``)."""
    checked = v.items("outcomes", outcomes, what="Outcome")
    done_ids = Bigints()
    done_tokens = Uuids()
    rest: list[Outcome] = []
    for i, o in enumerate(checked):
        if (
            type(o) is Outcome
            and o.action == "complete"
            and o.output is None
            and o.error is None
            and type(o.id) is int
            and 0 < o.id < 2**63
            and type(o.token) is UUID
            and type(o.retry) is bool
        ):
            done_ids.append(o.id)  # a plain completion, the usual case: nothing to convert
            done_tokens.append(o.token)
            continue
        checked[i] = checked_outcome(o, i)
        _place(checked[i], done_ids, done_tokens, rest)
    if len(set(done_ids).union(o.id for o in rest)) < len(checked):
        done_ids, done_tokens, rest = _first_of_each_id(checked)  # an id given twice
    return checked, {
        "done_ids": done_ids,
        "done_tokens": done_tokens,
        "ids": Bigints(o.id for o in rest),
        "outcomes": _outcomes_json(rest),
        **STATUS_PARAMS,
    }


# The statuses settling moves a task from and to, as the lifecycle says.
STATUS_PARAMS = {
    "sources": TASK_LIFECYCLE.sources("complete"),
    "completed": TASK_LIFECYCLE.target("complete"),
    "released": TASK_LIFECYCLE.target("release"),
    "retried": TASK_LIFECYCLE.target("retry"),
    "buried": TASK_LIFECYCLE.target("bury"),
}


def _first_of_each_id(checked: Sequence[Outcome]) -> tuple[Bigints, Uuids, list[Outcome]]:
    """Each id's first outcome, split as ``settle_params`` sends them."""
    done_ids = Bigints()
    done_tokens = Uuids()
    rest: list[Outcome] = []
    seen: set[int] = set()
    for o in checked:
        if o.id not in seen:
            seen.add(o.id)
            _place(o, done_ids, done_tokens, rest)
    return done_ids, done_tokens, rest


def _place(o: Outcome, done_ids: Bigints, done_tokens: Uuids, rest: list[Outcome]) -> None:
    """Put one outcome where the statement reads it: a plain completion (no output) with
    the ids and tokens, any other outcome with the rest."""
    if o.action == "complete" and o.output is None:
        done_ids.append(o.id)
        done_tokens.append(o.token)
    else:
        rest.append(o)


def _outcomes_json(checked: Sequence[Outcome]) -> str:
    """The outcomes as one JSON object keyed by task id (ids are distinct). Absent keys read
    as NULL.

    An outcome with no output or error (a release, a failure without a message) is written
    out directly: its id is an int, its token a UUID and its action one of three words,
    checked by ``checked_outcome``, so nothing in it needs escaping; the rest go through the
    encoder."""
    entries: dict[int, str] = {}
    for o in checked:
        if o.output is None and o.error is None:
            retry = "true" if o.retry else "false"
            entries[o.id] = f'{{"token":"{o.token}","action":"{o.action}","retry":{retry}}}'
        else:
            entries[o.id] = _encode(_outcome_entry(o))
    return "{" + ",".join(f'"{i}":{entry}' for i, entry in entries.items()) + "}"


def _outcome_entry(o: Outcome) -> dict[str, Any]:
    """One outcome as the statement reads it."""
    entry: dict[str, Any] = {"token": str(o.token), "action": o.action, "retry": o.retry}
    if o.output is not None:
        entry["output"] = o.output
    if o.error is not None:
        entry["error"] = o.error
    return entry


# settle_and_claim's result rows, by column (its RETURNING and summary lists in queries.sql):
# a claimed task's row holds the CLAIMED_COLUMNS, then NULL where the summary's columns are;
# the one summary row holds NULL where a task's columns are (its id NULL), then the
# SUMMARY_COLUMNS: the settled ids and their new statuses, then what the claim's tasks share.
CLAIMED_COLUMNS = (
    "id",
    "task_type",
    "agent_name",
    "priority",
    "input",
    "output",
    "attempts",
    "max_attempts",
    "retry_delay",
    "run_after",
    "rescues",
    "error",
    "session_id",
    "entity_id",
    "dedup_key",
    "created_at",
    "status",
)
SUMMARY_COLUMNS = (
    "settled_ids",
    "settled_statuses",
    "tenant_id",
    "at",
    "lease_expires_at",
    "token",
)
RESULT_COLUMNS = CLAIMED_COLUMNS + SUMMARY_COLUMNS
SUMMARY = len(CLAIMED_COLUMNS)  # where the summary's columns start in a row
_ID = RESULT_COLUMNS.index("id")

# A claimed task's other fields hold the claim's own values, the same for all its tasks.
_claimed_task = row_builder(
    Task,
    CLAIMED_COLUMNS,
    shared=(
        "tenant_id",
        "queue",
        "claimed_by",
        "claim_token",
        "lease_expires_at",
        "updated_at",
        "finished_at",
    ),
)


def cycle_of(
    checked: Sequence[Outcome], rows: Sequence[tuple[Any, ...]], queue: str, worker: str | None
) -> Cycle:
    """settle_and_claim's ``rows`` (laid out as RESULT_COLUMNS) as the outcomes settled and
    the tasks claimed. ``queue`` and ``worker`` are the claim's arguments, which the
    statement does not send back."""
    summary = summary_of(rows)
    build = _claimed_task(
        tenant_id=summary["tenant_id"],
        queue=queue,
        claimed_by=worker,
        claim_token=summary["token"],
        lease_expires_at=summary["lease_expires_at"],
        updated_at=summary["at"],  # the claim's time
        finished_at=None,  # a claimed task is unfinished
    )
    claimed = [build(row) for row in rows if row[_ID] is not None]
    return Cycle(settled=settled_of(checked, summary), claimed=claimed)


def summary_of(rows: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """settle_and_claim's summary row (there is exactly one), by column name."""
    row = next(row for row in rows if row[_ID] is None)
    return dict(zip(SUMMARY_COLUMNS, row[SUMMARY:], strict=True))


def settled_of(checked: Sequence[Outcome], summary: Mapping[str, Any]) -> Settled:
    """Which of the ``checked`` outcomes the summary row says were applied, and which not."""
    ids, statuses = summary["settled_ids"], summary["settled_statuses"]
    applied: dict[int, str] = {} if ids is None else dict(zip(ids, statuses, strict=True))
    if len(applied) == len(checked):
        return Settled(applied=applied, refused=[])  # each id settled: none refused
    return Settled(applied=applied, refused=[o.id for o in checked if o.id not in applied])
