"""Task queue operations (I/O-free): enqueue, claim, settle, heartbeat, inspect, prune."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.db.types import Bigints, Uuids
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.records import builder, from_row
from agentledger.tasks.records import (
    TASK_LIFECYCLE,
    Cycle,
    NewTask,
    Outcome,
    QueueStats,
    Settled,
    Task,
)

Q = Queries.beside(__file__)
MAX_BATCH = 50_000
MAX_PAGE = 1000
MAX_LEASE = 86_400.0
OUTCOME_ACTIONS = ("complete", "fail", "release")


def _queue(value: object) -> str:
    return v.text("queue", value, max_len=200)


def _when(field: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    return value


def _new_task(queue: str, task: NewTask | Mapping[str, Any], index: int) -> NewTask:
    """Validate one task of a batch (a plain mapping is its input)."""
    if not isinstance(task, NewTask):
        task = NewTask(input=v.json_object(f"tasks[{index}]", task))
    at = f"tasks[{index}]"
    return NewTask(
        input=v.json_object(f"{at}.input", task.input),
        task_type=v.text(f"{at}.task_type", task.task_type, max_len=200, min_len=0),
        priority=v.integer(f"{at}.priority", task.priority, low=-(2**31), high=2**31 - 1),
        queue=_queue(task.queue if task.queue is not None else queue),
        agent_name=v.optional_text(f"{at}.agent_name", task.agent_name, max_len=200),
        max_attempts=v.integer(f"{at}.max_attempts", task.max_attempts, low=1, high=1000),
        retry_delay=v.number(f"{at}.retry_delay", task.retry_delay, low=0, high=86_400),
        run_after=_when(f"{at}.run_after", task.run_after),
        session_id=v.optional_text(f"{at}.session_id", task.session_id, max_len=200),
        entity_id=v.optional_text(f"{at}.entity_id", task.entity_id, max_len=200),
        dedup_key=v.optional_text(f"{at}.dedup_key", task.dedup_key, max_len=500),
    )


@operation(idempotent=False)
def enqueue(queue: str, input: Mapping[str, Any] | None = None, **fields: Any) -> Gen[Task]:
    """Add one task; with a ``dedup_key`` held by an unfinished task, return that one."""
    task = _new_task(queue, NewTask(input=dict(input or {}), **fields), 0)
    params = {
        name: getattr(task, name)
        for name in [
            "queue",
            "task_type",
            "agent_name",
            "priority",
            "input",
            "max_attempts",
            "retry_delay",
            "run_after",
            "session_id",
            "entity_id",
            "dedup_key",
        ]
    }
    row = yield Q.enqueue.one(**params)
    if row is None:
        row = yield Q.find_unfinished.one(queue=task.queue, dedup_key=task.dedup_key)
        if row is None:  # finished between the conflict and the look-up: enqueue afresh
            row = yield Q.enqueue.one(**params)
    yield Q.notify_queues.none(queues=[task.queue])
    return from_row(Task, row)


@operation(idempotent=False)
def enqueue_many(queue: str, tasks: Iterable[NewTask | Mapping[str, Any]]) -> Gen[list[int]]:
    """Add a batch in one statement; the ids in input order (existing ids for duplicates)."""
    items = list(tasks)
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH} tasks", field="tasks")
    if not items:
        return []
    columns = _batch_columns(_queue(queue), items)
    if any(key is not None for key in columns["dedup_keys"]):
        rows = yield Q.enqueue_many.all(**columns)
    else:  # nothing to deduplicate: a plain insert
        del columns["dedup_keys"]
        rows = yield Q.enqueue_many_plain.all(**plain_batch(columns))
    yield Q.notify_queues.none(queues=sorted(set(columns["queues"])))
    return [row["id"] for row in rows]


def _batch_columns(
    queue: str, items: Sequence[NewTask | Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """Validate a batch into the statement's columns, each task checked once.

    A plain mapping is a task's input with every other field at its default."""
    inputs: list[str] = []
    tasks: list[NewTask] = []
    plain = NewTask(queue=queue)
    for i, task in enumerate(items):
        if isinstance(task, NewTask):
            inputs.append(_input_json(f"tasks[{i}].input", task.input))
            tasks.append(_new_task(queue, replace(task, input=None), i))
        else:
            inputs.append(_input_json(f"tasks[{i}]", task))
            tasks.append(plain)
    # Inputs only (the usual batch): every other column repeats one value, known as such.
    shared = tasks.count(plain) == len(tasks)
    columns: dict[str, list[Any]] = {"inputs": inputs}
    for column, field in _BATCH_FIELDS.items():
        if shared:
            columns[column] = Repeated([getattr(plain, field)] * len(tasks))
        else:
            columns[column] = list(map(attrgetter(field), tasks))
    return columns


class Repeated(list[Any]):
    """A batch column known to hold one value for every task."""


# A batch's columns (but its inputs), by the NewTask field each is read from.
_BATCH_FIELDS = {
    "queues": "queue",
    "task_types": "task_type",
    "agent_names": "agent_name",
    "priorities": "priority",
    "max_attempts": "max_attempts",
    "retry_delays": "retry_delay",
    "run_afters": "run_after",
    "session_ids": "session_id",
    "entity_ids": "entity_id",
    "dedup_keys": "dedup_key",
}

# The plain insert's columns that may travel once for the whole batch, by their scalar's name.
UNIFORM = {
    "queues": "queue",
    "task_types": "task_type",
    "agent_names": "agent_name",
    "priorities": "priority",
    "max_attempts": "max_attempt",
    "retry_delays": "retry_delay",
    "run_afters": "run_after",
    "session_ids": "session_id",
    "entity_ids": "entity_id",
}


def plain_batch(columns: dict[str, list[Any]]) -> dict[str, Any]:
    """The plain insert's parameters: a column with one value for every task as that value
    (and a NULL array), the others as arrays; inputs always as an array (it sets the batch's
    length). Sending 20k copies of a queue name costs more than the insert's own checks."""
    params: dict[str, Any] = {"inputs": columns["inputs"]}
    for name, scalar in UNIFORM.items():
        values = columns[name]
        first = values[0]
        if type(values) is Repeated or all(
            value == first and type(value) is type(first) for value in values
        ):
            params[name], params[scalar] = None, first
        else:
            params[name], params[scalar] = values, None
    return params


def _input_json(field: str, value: object) -> str:
    """A task's input as JSON text: one encoding for the common case (a dict of JSON values
    that encodes cleanly); anything else gets the full check, which names the problem."""
    if value is None:
        return "{}"
    if type(value) is dict and _plain_json(value, 0):
        try:
            text = _encode(value)
        except (TypeError, ValueError):
            pass
        else:  # ASCII (ensure_ascii), so its length is its size in bytes
            if len(text) <= v.MAX_JSON_BYTES and "\\u0000" not in text:
                return text
    return json.dumps(v.json_object(field, value))


def _plain_json(value: object, depth: int) -> bool:
    """Containers whose keys are strings, not nested too deeply (the scalars are checked by
    encoding: json.dumps refuses non-finite numbers and foreign types)."""
    if depth > 60:
        return False
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) in _CONTAINERS and not _plain_json(item, depth + 1):
                return False
    elif type(value) in _CONTAINERS:
        for item in value:  # type: ignore[attr-defined]
            if type(item) in _CONTAINERS and not _plain_json(item, depth + 1):
                return False
    return True


_CONTAINERS = (dict, list, tuple)
# One encoder for every input (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(allow_nan=False).encode


def _claim_args(
    queue: str, limit: int, lease: float, worker: str | None, *, low: int = 1
) -> dict[str, Any]:
    return {
        "queue": _queue(queue),
        "limit": v.integer("limit", limit, low=low, high=MAX_PAGE),
        "lease": v.number("lease", lease, low=0.001, high=MAX_LEASE),
        "worker": v.optional_text("worker", worker, max_len=200),
    }


@operation(idempotent=False)
def claim(
    queue: str,
    *,
    limit: int = 1,
    lease: float = 60.0,
    worker: str | None = None,
    agent: str | None = None,
) -> Gen[list[Task]]:
    """Claim up to ``limit`` ready tasks (or tasks whose lease expired) and lease them.

    With ``agent`` the claim also takes tasks addressed to that agent; without it only
    unaddressed tasks. ``worker`` is recorded as ``claimed_by`` (default: the agent).
    """
    v.integer("limit", limit, low=1, high=MAX_PAGE)
    cycle = yield from settle_and_claim(
        [], queue, limit=limit, lease=lease, worker=worker, agent=agent
    ).start()
    return cycle.claimed


@operation(idempotent=False)
def settle_and_claim(
    outcomes: Sequence[Outcome],
    queue: str,
    *,
    limit: int = 1,
    lease: float = 60.0,
    worker: str | None = None,
    agent: str | None = None,
) -> Gen[Cycle]:
    """A worker's cycle in one statement: settle ``outcomes`` (as :func:`settle`), then claim
    up to ``limit`` tasks of ``queue`` (as :func:`claim`; ``limit`` 0 claims nothing).

    Safe to repeat after an unknown outcome as far as the outcomes go: an outcome already
    applied is refused the second time (its claim token is spent), never applied twice.
    """
    checked, params = _settle_params(outcomes)
    args = _claim_args(queue, limit, lease, worker if worker is not None else agent, low=0)
    rows = yield Q.settle_and_claim.tuples(
        agent=v.optional_text("agent", agent, max_len=200), **args, **params
    ).alone()
    return _cycle(checked, rows, args["queue"], args["worker"])


def _settle_params(outcomes: Sequence[Outcome]) -> tuple[list[Outcome], dict[str, Any]]:
    """The outcomes checked, and the statement's parameters for them: plain completions (no
    output) as two arrays, ids and tokens; the rest as JSON. An id given twice is settled
    by its first outcome. A worker settles thousands a second: one pass, and ids are
    looked at for repeats all at once."""
    checked = list(outcomes)
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
        checked[i] = _outcome(o, i)
        _file(checked[i], done_ids, done_tokens, rest)
    if len(set(done_ids).union(o.id for o in rest)) < len(checked):
        done_ids, done_tokens, rest = _firsts(checked)  # an id given twice
    return checked, {
        "done_ids": done_ids,
        "done_tokens": done_tokens,
        "ids": Bigints(o.id for o in rest),
        "outcomes": _outcomes_json(rest),
        "sources": TASK_LIFECYCLE.sources("complete"),
        "completed": TASK_LIFECYCLE.target("complete"),
        "released": TASK_LIFECYCLE.target("release"),
        "retried": TASK_LIFECYCLE.target("retry"),
        "buried": TASK_LIFECYCLE.target("bury"),
    }


def _firsts(checked: Sequence[Outcome]) -> tuple[Bigints, Uuids, list[Outcome]]:
    """Each id's first outcome, split as ``_settle_params`` sends them."""
    done_ids = Bigints()
    done_tokens = Uuids()
    rest: list[Outcome] = []
    seen: set[int] = set()
    for o in checked:
        if o.id not in seen:
            seen.add(o.id)
            _file(o, done_ids, done_tokens, rest)
    return done_ids, done_tokens, rest


def _file(o: Outcome, done_ids: Bigints, done_tokens: Uuids, rest: list[Outcome]) -> None:
    """A plain completion (no output) joins the ids and tokens; any other outcome the rest."""
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
    checked by ``_outcome``, so nothing in it needs escaping; the rest go through the
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


# settle_and_claim's result: a claimed task's own 16 columns (and its status), then the
# summary row's.
_SUMMARY = 17
_RUNNING = TASK_LIFECYCLE.target("claim")


def _cycle(
    checked: Sequence[Outcome], rows: Sequence[tuple[Any, ...]], queue: str, worker: str | None
) -> Cycle:
    """Shape settle_and_claim's compact result. Its one summary row (task id NULL) holds
    the settled ids and statuses and the values every claimed task shares; ``queue`` and
    ``worker`` are the claim's own arguments, written as they are into every claimed task.

    A claimed task's row holds its own columns in Task's field order: (id), (task_type ..
    output), (attempts .. run_after), (rescues .. created_at); the fields between them
    are the claim's (a task just claimed is running, unfinished, holds the claim's token
    and was last updated by it). Passed field by field: slicing and unpacking cost more."""
    summary = _summary(rows)
    _, _, tenant_id, at, lease, token = summary
    build, running = _build_task, _RUNNING
    claimed = [
        build(
            tenant_id,
            r[0],
            queue,
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            running,
            r[6],
            r[7],
            r[8],
            r[9],
            lease,
            worker,
            token,
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            r[15],
            at,
            None,
        )
        for r in rows
        if r[0] is not None
    ]
    return Cycle(settled=_settled(checked, summary), claimed=claimed)


def _summary(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """settle_and_claim's summary row (there is exactly one; it sorts first), its columns."""
    return next(row for row in rows if row[0] is None)[_SUMMARY:]


def _settled(checked: Sequence[Outcome], summary: tuple[Any, ...]) -> Settled:
    ids, statuses = summary[0], summary[1]
    applied: dict[int, str] = {} if ids is None else dict(zip(ids, statuses, strict=True))
    if len(applied) == len(checked):
        return Settled(applied=applied, refused=[])  # each id settled: none refused
    return Settled(applied=applied, refused=[o.id for o in checked if o.id not in applied])


# Task's fields in order, for the thousands a worker builds per second.
_build_task = builder(Task)


@operation(idempotent=False)
def claim_fair(
    queue: str, *, limit: int = 10, lease: float = 60.0, worker: str | None = None
) -> Gen[list[Task]]:
    """Claim across tenants, fairly (platform scope only)."""
    rows = yield Q.claim_fair.all(**_claim_args(queue, limit, lease, worker))
    return [from_row(Task, row) for row in rows]


def _outcome(outcome: Outcome, index: int) -> Outcome:
    """One outcome checked and converted (a plain completion of the right types skips this
    in ``_settle_params``)."""
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
        retry=bool(outcome.retry),
    )


@operation(idempotent=True)
def settle(outcomes: Sequence[Outcome]) -> Gen[Settled]:
    """Apply many outcomes in one statement; outcomes whose claim was lost are refused."""
    checked, params = _settle_params(outcomes)
    if not checked:
        return Settled(applied={}, refused=[])
    rows = yield Q.settle_and_claim.tuples(
        queue=None, limit=0, lease=1.0, worker=None, agent=None, **params
    )
    return _settled(checked, _summary(rows))


@operation(idempotent=True)
def settle_one(outcome: Outcome) -> Gen[Task]:
    """Apply one outcome; Conflict when the claim was lost, naming the task and its state."""
    checked = _outcome(outcome, 0)
    result = yield from settle([checked]).start()
    row = yield Q.get_task.one(id=checked.id)
    if row is None:
        raise NotFound(f"task {checked.id} does not exist", field="task_id")
    if checked.id not in result.applied:
        if row["status"] == "running":
            raise Conflict(
                f"task {checked.id} is held by another claim (by {row['claimed_by']!r}): "
                "this worker's lease was lost",
                field="token",
            )
        action = {"complete": "complete", "fail": "retry", "release": "release"}
        TASK_LIFECYCLE.check(action[checked.action], row["status"])  # raises: not running
    return from_row(Task, row)


def outcome(
    task: Task | int,
    action: str,
    *,
    token: UUID | str | None = None,
    output: Mapping[str, Any] | None = None,
    error: str | None = None,
    retry: bool = True,
) -> Outcome:
    """The outcome of a claimed task (a Task record carries its own claim token)."""
    if isinstance(task, Task):
        task_id, held = task.id, task.claim_token if token is None else token
    else:
        task_id, held = task, token
    if held is None:
        raise InvalidInput(f"task {task_id} has no claim token: claim it first", field="token")
    return Outcome(
        id=task_id,
        token=v.uuid("token", held),
        action=action,
        output=None if output is None else dict(output),
        error=error,
        retry=retry,
    )


@operation(idempotent=True)
def heartbeat(claims: Sequence[tuple[int, UUID | str]], *, lease: float = 60.0) -> Gen[list[int]]:
    """Extend the leases of tasks still held under these tokens; returns those ids."""
    pairs = [
        (v.integer(f"claims[{i}].id", task_id, low=1), v.uuid(f"claims[{i}].token", token))
        for i, (task_id, token) in enumerate(claims)
    ]
    if not pairs:
        return []
    rows = yield Q.heartbeat.all(
        ids=Bigints(p[0] for p in pairs),
        tokens=Uuids(p[1] for p in pairs),
        lease=v.number("lease", lease, low=0.001, high=MAX_LEASE),
    )
    return [row["id"] for row in rows]


@operation(writes=False)
def get(task_id: int) -> Gen[Task]:
    row = yield Q.get_task.one(id=v.integer("task_id", task_id, low=1))
    if row is None:
        row = yield Q.get_archived.one(id=task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    return from_row(Task, row)


@operation(writes=False)
def list_(
    *, queue: str | None = None, status: str | None = None, after: int = 0, limit: int = 100
) -> Gen[list[Task]]:
    if status is not None:
        v.choice("status", status, TASK_LIFECYCLE.states)
    rows = yield Q.list_tasks.all(
        queue=None if queue is None else _queue(queue),
        status=status,
        after=v.integer("after", after, low=0),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(Task, row) for row in rows]


@operation(idempotent=True)
def transition(task_id: int, action: str) -> Gen[Task]:
    """Cancel a pending task or redrive a dead one; IllegalTransition names the state."""
    if action not in ("cancel", "redrive"):
        raise InvalidInput(f"{action!r} is not cancel or redrive", field="action")
    row = yield Q.transition.one(
        id=v.integer("task_id", task_id, low=1),
        target=TASK_LIFECYCLE.target(action),
        sources=TASK_LIFECYCLE.sources(action),
    )
    if row is None:
        current = yield Q.get_task.one(id=task_id)
        if current is None:
            raise NotFound(f"task {task_id} does not exist", field="task_id")
        TASK_LIFECYCLE.check(action, current["status"])  # raises: the move is illegal
        row = current  # pragma: no cover
    if row["status"] == "pending":
        yield Q.notify_queues.none(queues=[row["queue"]])
    return from_row(Task, row)


@operation(idempotent=True)
def redrive_queue(queue: str, *, limit: int = 1000) -> Gen[list[int]]:
    """Send up to ``limit`` dead tasks of ``queue`` back to pending; returns their ids."""
    rows = yield Q.redrive_queue.all(
        queue=_queue(queue), limit=v.integer("limit", limit, low=1, high=MAX_BATCH)
    )
    if rows:
        yield Q.notify_queues.none(queues=[queue])
    return [row["id"] for row in rows]


@operation(writes=False)
def stats(queue: str | None = None) -> Gen[list[QueueStats]]:
    rows = yield Q.stats.all(queue=None if queue is None else _queue(queue))
    return [from_row(QueueStats, row) for row in rows]


@operation(idempotent=True)
def prune(*, older_than: float, limit: int = 1000) -> Gen[int]:
    """Move up to ``limit`` tasks finished more than ``older_than`` seconds ago to the
    archive (out of the hot table); returns how many moved. Call until it returns 0."""
    moved = yield Q.prune.rowcount(
        older_than=v.number("older_than", older_than, low=0),
        limit=v.integer("limit", limit, low=1, high=MAX_BATCH),
    )
    return int(moved)
