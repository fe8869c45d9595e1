"""A worker's bookkeeping, I/O-free and shared by both faces: options, what it holds and owes.

Both worker loops (threads and asyncio tasks) keep their books here: the tasks they hold,
the outcomes they owe the database, what they did, and when the next heartbeat and prune
are due. The loops differ only in how they run handlers and wait.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from uuid import UUID

from agentledger import validation as v
from agentledger.errors import ConfigError, InvalidInput
from agentledger.tasks.ops import MAX_AGE, MAX_LEASE, MAX_PAGE
from agentledger.tasks.records import Cycle, Outcome, Task

PRUNE_EVERY = 60.0
# Idle waits on the LISTEN connection are cut into slices this long, so stop() is prompt.
WAIT_SLICE = 0.25
# WorkerOptions' bounds: a claim takes at most MAX_PAGE tasks; a lease (and a poll interval)
# at least MIN_SECONDS; a worker's id is stored in tasks' claimed_by (200 characters at most).
MAX_CONCURRENCY = MAX_PAGE
MIN_SECONDS = 0.001
MAX_WORKER_ID = 200


@dataclass(kw_only=True, slots=True)
class WorkerStats:
    """What one ``run()`` did."""

    claimed: int = 0
    completed: int = 0
    failed: int = 0
    released: int = 0
    refused: int = 0  # claims lost to another claim: their outcomes refused or dropped


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerOptions:
    """A worker's settings, checked as they are made: InvalidInput names a bad one.

    ``concurrency`` is 1 to MAX_CONCURRENCY (a claim takes at most that many tasks);
    ``lease`` and ``poll_interval`` are seconds from MIN_SECONDS to MAX_LEASE (what the
    queue accepts for a lease); ``grace`` is 0 to MAX_LEASE seconds; ``retention``, when
    given, is 0 to MAX_AGE seconds (as ``prune(older_than=...)`` takes it); ``worker_id``
    is at most MAX_WORKER_ID characters ("" for one made up of host, process and a random
    part).
    """

    concurrency: int = 10
    lease: float = 60.0
    poll_interval: float = 1.0
    grace: float = 30.0
    retention: float | None = None  # prune tasks finished longer ago than this (seconds)
    worker_id: str = ""
    # Handlers take (task, tx): their writes commit with the task's completion.
    transactional: bool = False

    def __post_init__(self) -> None:
        checked = {
            "concurrency": v.integer("concurrency", self.concurrency, low=1, high=MAX_CONCURRENCY),
            "lease": v.number("lease", self.lease, low=MIN_SECONDS, high=MAX_LEASE),
            "poll_interval": v.number(
                "poll_interval", self.poll_interval, low=MIN_SECONDS, high=MAX_LEASE
            ),
            "grace": v.number("grace", self.grace, low=0, high=MAX_LEASE),
            "retention": None
            if self.retention is None
            else v.number("retention", self.retention, low=0, high=MAX_AGE),
            "worker_id": v.optional_text("worker_id", self.worker_id, max_len=MAX_WORKER_ID) or "",
            "transactional": v.flag("transactional", self.transactional),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    def check_transactional(self, scope: object, pool_max_size: int) -> None:
        """A transactional worker needs the ``scope`` of its handlers' transactions, and a
        pool that lends each running handler a connection and its own turns one more."""
        if not self.transactional:
            return
        if scope is None:
            raise InvalidInput(
                "a transactional worker needs the scope of its transactions", field="scope"
            )
        if self.concurrency >= pool_max_size:
            raise ConfigError(
                f"a transactional worker with concurrency {self.concurrency} needs "
                f"pool_max_size above it (it is {pool_max_size}): lower the concurrency "
                "or raise pool_max_size",
                field="concurrency",
            )

    @property
    def heartbeat_every(self) -> float:
        return self.lease / 3

    def ident(self) -> str:
        if self.worker_id:
            return self.worker_id
        made = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        return made[-MAX_WORKER_ID:]  # a long host name loses its start, not the random part


class Every:
    """A recurring chore: due at once, then ``interval`` seconds after it was last done."""

    __slots__ = ("_at", "interval")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._at = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() >= self._at

    def done(self) -> None:
        self._at = time.monotonic() + self.interval

    def left(self) -> float:
        """Seconds until it is due (0 when it is)."""
        return max(0.0, self._at - time.monotonic())


# A claim of a task: its id and the claim's token (a task released, or whose lease was lost,
# under a running handler may be claimed again meanwhile: two handlers then run for it).
Claim = tuple[int, "UUID | None"]


def claim_of(task: Task) -> Claim:
    return (task.id, task.claim_token)


class Books:
    """The state of one ``run()``: tasks held (claimed, their handler not yet booked),
    outcomes owed (kept until the database has taken them), stats, and the chores' times.

    A task is held under its latest claim only: claimed again while an earlier claim's
    handler still runs, the earlier claim is void (the database holds the new token), and
    that handler's result is dropped when it comes.
    """

    def __init__(self, options: WorkerOptions, stats: WorkerStats) -> None:
        self.options = options
        self.stats = stats
        self.held: dict[int, Task] = {}  # by id: the claim's own record
        self.owed: list[tuple[str, Outcome]] = []  # (tenant, outcome)
        self.beat = Every(options.heartbeat_every)
        self.prune = Every(PRUNE_EVERY)

    @property
    def free(self) -> int:
        """How many more tasks may be claimed."""
        return self.options.concurrency - len(self.held)

    @property
    def idle(self) -> bool:
        return not self.held and not self.owed

    def to_send(self, limit: int) -> list[tuple[str, Outcome]] | None:
        """The outcomes to send with a claim of up to ``limit`` tasks; None when there is
        nothing to settle and nothing to claim."""
        if not self.owed and not limit:
            return None
        return self.owed[:]

    def sent(self, batch: list[tuple[str, Outcome]], cycle: Cycle) -> list[Task]:
        """The database took ``batch`` (some outcomes may have been refused: their lease was
        lost) and gave ``cycle.claimed``, now held; returns those tasks.

        Outcomes stay owed until this is called: sending them again is safe (an outcome
        already applied is refused, never applied twice)."""
        del self.owed[: len(batch)]
        lost = set(cycle.settled.refused)
        stats = self.stats
        stats.refused += len(lost)
        for _, o in batch:
            if o.id in lost:
                continue
            if o.action == "complete":
                stats.completed += 1
            elif o.action == "fail":
                stats.failed += 1
            else:
                stats.released += 1
        stats.claimed += len(cycle.claimed)
        held = self.held
        for task in cycle.claimed:
            if task.id in held:
                stats.refused += 1  # the earlier claim is void: its outcome would be refused
            held[task.id] = task
        return cycle.claimed

    def owe(self, task: Task, outcome: Outcome) -> None:
        """A handler ended: its outcome is owed, unless its claim is no longer held."""
        held = self.held
        if held.get(task.id) is task:  # as _unhold, inline: once per task
            del held[task.id]
            self.owed.append((task.tenant_id, outcome))

    def settled(self, task: Task) -> None:
        """A handler's transaction completed its task: nothing is owed for it."""
        if self._unhold(task):
            self.stats.completed += 1

    def lost(self, task: Task) -> None:
        """A handler found its lease lost to another claim: nothing is owed for it."""
        if self._unhold(task):
            self.stats.refused += 1

    def _unhold(self, task: Task) -> bool:
        """Whether ``task`` (a claim's own record) was held; it is not any more."""
        if self.held.get(task.id) is not task:
            return False  # released at shutdown, or claimed again since
        del self.held[task.id]
        return True

    def release_all(self) -> None:
        """Owe a release for every task still held (shutting down: its handler is late)."""
        for task in self.held.values():
            assert task.claim_token is not None
            self.owed.append(
                (task.tenant_id, Outcome(id=task.id, token=task.claim_token, action="release"))
            )
        self.held.clear()
