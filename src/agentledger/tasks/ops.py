"""Task queue operations (I/O-free): enqueue, claim, settle, heartbeat, inspect, dead
letters, prune."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.attempts import after_unknown_commit
from agentledger.db.statements import Gen, Queries, Row, operation
from agentledger.db.types import Bigints, Uuids
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.records import from_row
from agentledger.tasks.batch import (
    BATCH_ARRAYS,
    batch_columns,
    checked_task,
    plain_batch,
    queue_name,
)
from agentledger.tasks.cycle import (
    checked_outcome,
    cycle_of,
    settle_params,
    settled_of,
    summary_of,
)
from agentledger.tasks.records import (
    TASK_LIFECYCLE,
    Cycle,
    NewTask,
    Outcome,
    QueueDepth,
    QueueStats,
    Redriven,
    Settled,
    Task,
)

Q = Queries.beside(__file__)
MAX_BATCH = 50_000
MAX_PAGE = 1000
MAX_LEASE = 86_400.0
# The oldest a finished task can be, in seconds: a thousand years (now() minus more leaves
# the timestamps PostgreSQL holds).
MAX_AGE = 1000 * 365.25 * 86_400
# The largest task id (bigint): "before" no id at all.
LAST_ID = 2**63 - 1
# The lifecycle actions a caller applies to one task by hand (the others are a worker's).
MANUAL_ACTIONS = ("cancel", "redrive", "discard")
# How often enqueue tries again when a dedup key's holder finishes between its insert and
# its look-up (each round is two statements; racing workers rarely need a second).
ENQUEUE_ROUNDS = 8


@operation(idempotent=False)
def enqueue(queue: str, input: Mapping[str, Any] | None = None, **fields: Any) -> Gen[Task]:
    """Add one task; with a ``dedup_key`` held by an unfinished task, return that one."""
    task = checked_task(queue, NewTask(input=input, **fields))
    params = {field: getattr(task, field) for field in BATCH_ARRAYS}  # every field, by name
    for _ in range(ENQUEUE_ROUNDS):
        row = yield Q.enqueue.one(**params)
        if row is None:  # the key is held: the holder, unless it finished since the insert
            row = yield Q.find_unfinished.one(queue=task.queue, dedup_key=task.dedup_key)
        if row is not None:
            yield Q.notify_queues.none(queues=[task.queue])
            return from_row(Task, row)
    raise Conflict(
        f"dedup_key {task.dedup_key!r} of queue {task.queue!r} was taken and finished "
        f"{ENQUEUE_ROUNDS} times while this task was enqueued; enqueue it again",
        field="dedup_key",
    )


@operation(idempotent=False)
def enqueue_many(queue: str, tasks: Iterable[NewTask | Mapping[str, Any]]) -> Gen[list[int]]:
    """Add a batch in one statement (a mapping is a task's input); the ids in input order (existing
    ids for duplicates)."""
    items = v.items("tasks", tasks, what="NewTask or input mappings")
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH} tasks", field="tasks")
    if not items:
        return []
    name = queue_name(queue)
    columns = batch_columns(name, items)
    if any(key is not None for key in columns["dedup_keys"]):
        rows = yield Q.enqueue_many.all(**columns)
    else:  # nothing to deduplicate: a plain insert
        rows = yield Q.enqueue_many_plain.all(**plain_batch(columns))
    ids: list[int | None] = [row["id"] for row in rows]
    missing = [i for i, found in enumerate(ids) if found is None]
    while missing:
        # A racing batch committed their twins after this statement's snapshot was taken:
        # a new statement (a new snapshot) finds them, or enqueues those that finished since.
        rows = yield Q.enqueue_many.all(**batch_columns(name, [items[i] for i in missing]))
        for i, row in zip(missing, rows, strict=True):
            ids[i] = row["id"]
        missing = [i for i in missing if ids[i] is None]
    yield Q.notify_queues.none(queues=sorted(set(columns["queues"])))
    return [i for i in ids if i is not None]


def _claim_args(
    queue: str, limit: int, lease: float, worker: str | None, *, low: int = 1
) -> dict[str, Any]:
    return {
        "queue": queue_name(queue),
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
    """Claim up to ``limit`` ready tasks (or tasks whose lease expired), highest priority first, and
    lease them.

    With ``agent`` the claim also takes tasks addressed to that agent; without it only unaddressed
    tasks. ``worker`` is recorded as ``claimed_by`` (default: the agent)."""
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
    checked, params = settle_params(outcomes)
    agent = v.optional_text("agent", agent, max_len=200)  # named before it stands for worker
    args = _claim_args(queue, limit, lease, worker if worker is not None else agent, low=0)
    rows = yield Q.settle_and_claim.tuples(agent=agent, **args, **params).alone()
    return cycle_of(checked, rows, args["queue"], args["worker"])


@operation(idempotent=False)
def claim_fair(
    queue: str, *, limit: int = 10, lease: float = 60.0, worker: str | None = None
) -> Gen[list[Task]]:
    """Claim across tenants, fairly (platform scope only)."""
    rows = yield Q.claim_fair.all(**_claim_args(queue, limit, lease, worker))
    return [from_row(Task, row) for row in rows]


@operation(idempotent=True)
def settle(outcomes: Sequence[Outcome]) -> Gen[Settled]:
    """Complete, fail or release many tasks in one statement; outcomes whose claim was lost are
    refused."""
    checked, params = settle_params(outcomes)
    if not checked:
        return Settled(applied={}, refused=[])
    rows = yield Q.settle_and_claim.tuples(
        queue=None, limit=0, lease=1.0, worker=None, agent=None, **params
    )
    return settled_of(checked, summary_of(rows))


@operation(idempotent=True)
def settle_one(outcome: Outcome) -> Gen[Task]:
    """Apply one outcome; Conflict when the claim was lost, naming the task and its state."""
    checked = checked_outcome(outcome, 0)
    result = yield from settle([checked]).start()
    row = yield Q.get_task.one(id=checked.id)
    if row is None:
        raise NotFound(f"task {checked.id} does not exist", field="task_id")
    action = {"complete": "complete", "fail": "retry", "release": "release"}[checked.action]
    # A repeat after a lost COMMIT finds the task where its first run put it: done.
    done = after_unknown_commit() and row["status"] == TASK_LIFECYCLE.target(action)
    if checked.id not in result.applied and not done:
        if row["status"] == "running":
            raise Conflict(
                f"task {checked.id} is held by another claim (by {row['claimed_by']!r}): "
                "this worker's lease was lost",
                field="token",
            )
        TASK_LIFECYCLE.check(action, row["status"])  # raises: not running
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
        output=None if output is None else v.json_object("output", output),
        error=error,
        retry=retry,
    )


@operation(idempotent=True)
def heartbeat(
    tasks: Sequence[Task | tuple[int, UUID | str]], *, lease: float = 60.0
) -> Gen[list[int]]:
    """Extend the leases of claimed tasks (records, or (id, claim token) pairs); returns
    the ids still held under those tokens."""
    listed = v.items("tasks", tasks, what="tasks or (id, claim token) pairs")
    claims = (_claim(f"tasks[{i}]", t) for i, t in enumerate(listed))
    pairs = [pair for pair in claims if pair is not None]
    if not pairs:
        return []
    rows = yield Q.heartbeat.all(
        ids=Bigints(p[0] for p in pairs),
        tokens=Uuids(p[1] for p in pairs),
        lease=v.number("lease", lease, low=0.001, high=MAX_LEASE),
    )
    return [row["id"] for row in rows]


def _claim(field: str, claim: object) -> tuple[int, UUID] | None:
    """One claim checked: a task's id and token (None for a task record not claimed)."""
    if isinstance(claim, Task):
        return None if claim.claim_token is None else (claim.id, claim.claim_token)
    if isinstance(claim, str | bytes) or not isinstance(claim, Sequence) or len(claim) != 2:
        raise InvalidInput(f"{field} must be a Task or a (task id, claim token) pair", field=field)
    return v.integer(f"{field}.id", claim[0], low=1), v.uuid(f"{field}.token", claim[1])


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
    *,
    queue: str | None = None,
    status: str | None = None,
    session_id: str | UUID | None = None,
    agent: str | None = None,
    claimed_by: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> Gen[list[Task]]:
    """Tasks in id order after ``after`` (the last id of the previous page): of a queue, a
    status, a session, the agent they are addressed to, or the worker that claimed them."""
    if status is not None:
        v.choice("status", status, TASK_LIFECYCLE.states)
    session = str(session_id) if isinstance(session_id, UUID) else session_id
    rows = yield Q.list_tasks.all(
        queue=None if queue is None else queue_name(queue),
        status=status,
        session_id=v.optional_text("session_id", session, max_len=200),
        agent=v.optional_text("agent", agent, max_len=200),
        claimed_by=v.optional_text("claimed_by", claimed_by, max_len=200),
        after=v.integer("after", after, low=0),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(Task, row) for row in rows]


@operation(idempotent=True)
def transition(task_id: int, action: str) -> Gen[Task]:
    """Cancel a pending task, redrive a dead one (pending again, with fresh attempts) or
    discard it (cancelled, kept with its error until pruned); IllegalTransition names the
    state. Conflict when a dead task's dedup key is held by another unfinished task (it
    names that task): it stays dead."""
    if action not in MANUAL_ACTIONS:
        raise InvalidInput(f"{action!r} is not one of {', '.join(MANUAL_ACTIONS)}", field="action")
    row = yield from TASK_LIFECYCLE.move(
        action,
        Q.transition.one(id=v.integer("task_id", task_id, low=1), **TASK_LIFECYCLE.guard(action)),
        Q.get_task_held.one(id=task_id),
        what=f"task {task_id}",
        field="task_id",
        refused=_key_held if action == "redrive" else None,
    )
    if row["status"] == "pending":
        yield Q.notify_queues.none(queues=[row["queue"]])
    return from_row(Task, row)


def _key_held(row: Row) -> None:
    """Conflict naming the unfinished task that holds a dead task's dedup key, if one does."""
    if row["held_by"] is not None:
        raise Conflict(
            f"task {row['id']} cannot run again: unfinished task {row['held_by']} holds its "
            f"dedup_key {row['dedup_key']!r} in queue {row['queue']!r}",
            field="task_id",
            held_by=row["held_by"],
        )


@operation(idempotent=True)
def redrive_queue(queue: str, *, limit: int = 1000) -> Gen[Redriven]:
    """Send up to ``limit`` dead tasks of ``queue`` back to pending, with fresh attempts.

    A dead task whose dedup key another unfinished task holds stays dead, listed in
    ``held`` with that task's id (up to ``limit`` of them): discard it, or redrive it once
    the holder has finished. Of dead tasks sharing a key, the oldest goes back."""
    name = queue_name(queue)
    rows = yield Q.redrive_queue.all(
        queue=name, limit=v.integer("limit", limit, low=1, high=MAX_BATCH)
    )
    ids = sorted(row["id"] for row in rows if row["held_by"] is None)
    if ids:
        yield Q.notify_queues.none(queues=[name])
    held = {row["id"]: row["held_by"] for row in rows if row["held_by"] is not None}
    return Redriven(ids=ids, held=dict(sorted(held.items())))


@operation(writes=False)
def stats(queue: str | None = None) -> Gen[list[QueueStats]]:
    """Depth by status, oldest ready age, last-minute throughput, per queue."""
    rows = yield Q.stats.all(queue=None if queue is None else queue_name(queue))
    return [from_row(QueueStats, row) for row in rows]


@operation(writes=False)
def depth(queue: str | None = None) -> Gen[list[QueueDepth]]:
    """What waits in each queue (or in ``queue``): ready, scheduled, retrying, running and
    expired tasks, dead letters, the oldest ready task's wait and last-minute completions.

    Reads only the indexes of unfinished tasks, dead letters and recent completions, so its
    cost follows the work waiting, not the history kept (``stats`` counts every task still
    in the table). A queue with nothing waiting, dead or just completed is not listed."""
    rows = yield Q.queue_depth.all(queue=None if queue is None else queue_name(queue))
    return [from_row(QueueDepth, row) for row in rows]


@operation(writes=False)
def dead_letters(
    queue: str | None = None, *, before: int | None = None, limit: int = 100
) -> Gen[list[Task]]:
    """Dead tasks (of ``queue``, or of every queue), the most recently enqueued first; pass
    the last task's id as ``before`` for the next page. ``redrive`` or ``discard`` each one."""
    rows = yield Q.dead_letters.all(
        queue=None if queue is None else queue_name(queue),
        before=LAST_ID if before is None else v.integer("before", before, low=1),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(Task, row) for row in rows]


@operation(idempotent=True)
def prune(*, older_than: float, limit: int = 1000) -> Gen[int]:
    """Move up to ``limit`` tasks finished more than ``older_than`` seconds ago to the
    archive (out of the hot table); returns how many moved. Call until it returns 0."""
    moved = yield Q.prune.rowcount(
        older_than=v.number("older_than", older_than, low=0, high=MAX_AGE),
        limit=v.integer("limit", limit, low=1, high=MAX_BATCH),
    )
    return int(moved)
