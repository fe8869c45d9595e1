"""Completing a task in its handler's transaction (I/O-free): the claim checked first and last.

A handler's writes and its task's completion commit together or not at all, so the task's
effects through agentledger happen exactly once. The claim is checked when the transaction
begins (a handler whose task was taken over fails before it starts) and again by the
completion itself, which applies only while the task still runs under the claim's token.

The check at the start takes no lock: a lock held for the handler's whole run would make the
lease meaningless (the rescuing claim skips locked rows) and would block the worker's own
heartbeats. So another worker may rescue an expired lease while the handler runs; then the
completion is refused and the whole transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, operation
from agentledger.errors import InvalidInput, LeaseLost, NotFound
from agentledger.tasks import ops
from agentledger.tasks.ops import Q
from agentledger.tasks.records import TASK_LIFECYCLE, Outcome

S = TypeVar("S")
_RUNNING = TASK_LIFECYCLE.target("claim")


class Completing(Generic[S]):
    """A claimed task being completed in a transaction: ``tx``, the scope its writes go
    through, and ``output``, recorded on the task when the transaction commits."""

    __slots__ = ("output", "tx")

    def __init__(self, tx: S, output: Mapping[str, Any] | None = None) -> None:
        self.tx = tx
        self.output = output


class UnstorableOutput(InvalidInput):
    """A handler returned an output its task cannot store."""


def output_of(result: object) -> dict[str, Any] | None:
    """A handler's result as its task's output: None, or a dict PostgreSQL's jsonb stores.
    UnstorableOutput says why not; its message is the failed task's error on every worker."""
    if result is None:
        return None
    if not isinstance(result, dict):
        said = f"handler returned {type(result).__name__}, not a dict or None"
        raise UnstorableOutput(said, field="output")
    try:
        v.json_object("output", result)  # as settling checks it
    except InvalidInput as bad:
        said = f"handler returned an output that cannot be stored: {bad}"
        raise UnstorableOutput(said, field="output") from None
    return result


# It decides whether a completion may be written.
@operation(writes=False, standby=False)
def check_claim(task_id: int, token: UUID) -> Gen[None]:
    """LeaseLost unless the task still runs under ``token``; NotFound if it does not exist
    (in the bound tenant)."""
    row = yield from _stored(task_id)
    if row["status"] != _RUNNING or row["claim_token"] != token:
        raise _lost(task_id, row)


@operation(idempotent=False)
def complete(outcome: Outcome) -> Gen[None]:
    """Complete the task in the transaction at hand, if it still runs under the outcome's
    token (LeaseLost if not: the caller's transaction must then roll back)."""
    settled = yield from ops.settle([outcome]).start()
    if outcome.id not in settled.applied:
        raise _lost(outcome.id, (yield from _stored(outcome.id)))


def _stored(task_id: int) -> Gen[Mapping[str, Any]]:
    """The task's row; NotFound if it does not exist (in the bound tenant)."""
    row: Mapping[str, Any] | None = yield Q.get_task.one(id=task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    return row


def _lost(task_id: int, row: Mapping[str, Any]) -> LeaseLost:
    status = row["status"]
    if status == _RUNNING:
        now = f"it runs under another claim (by {row['claimed_by']!r})"
    else:
        now = f"it is {status} now"
    return LeaseLost(
        f"task {task_id}'s lease was lost: {now}; nothing of this transaction was committed",
        field="token",
        task_id=task_id,
        status=status,
    )
