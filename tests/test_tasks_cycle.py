"""A worker's cycle without a database: what settle_and_claim sends for given outcomes, and
the records it makes of the statement's rows (fed by run_offline)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentledger import InvalidInput, Outcome, Task
from agentledger.db.statements import run_offline
from agentledger.db.types import Bigints, Uuids
from agentledger.tasks import ops
from agentledger.tasks.cycle import CLAIMED_COLUMNS, RESULT_COLUMNS, SUMMARY_COLUMNS, settle_params

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOKEN = uuid.UUID(int=7)


def _row(**columns: Any) -> tuple[Any, ...]:
    """A result row laid out as RESULT_COLUMNS, from the columns given by name."""
    assert set(columns) <= set(RESULT_COLUMNS)
    return tuple(columns.get(name) for name in RESULT_COLUMNS)


def _claimed_row(task_id: int, **columns: Any) -> tuple[Any, ...]:
    task = {
        "id": task_id,
        "task_type": "t",
        "agent_name": None,
        "priority": 0,
        "input": {"i": task_id},
        "output": None,
        "attempts": 1,
        "max_attempts": 5,
        "retry_delay": 1.0,
        "run_after": NOW - timedelta(seconds=1),
        "rescues": 0,
        "error": None,
        "session_id": None,
        "entity_id": None,
        "dedup_key": None,
        "created_at": NOW - timedelta(seconds=2),
        "status": "running",
    }
    return _row(**(task | columns))


def _summary_row(settled: dict[int, str] | None = None) -> tuple[Any, ...]:
    return _row(
        settled_ids=None if not settled else list(settled),
        settled_statuses=None if not settled else list(settled.values()),
        tenant_id="acme",
        at=NOW,
        lease_expires_at=NOW + timedelta(seconds=60),
        token=TOKEN,
    )


def test_the_row_layout_is_the_statement_s() -> None:
    sql = ops.Q.settle_and_claim.sql
    returning = re.search(r"\bclaimed AS \(.*?^RETURNING (.*?)\n\)", sql, re.S | re.M)
    summary = re.search(r"^FULL JOIN \(\nSELECT (.*?)\nFROM", sql, re.S | re.M)
    assert returning is not None and summary is not None
    assert "SELECT c.*, s.*" in sql  # a task's columns first, then the summary's

    def names(listed: str) -> tuple[str, ...]:
        return tuple(item.strip().split(".")[-1] for item in listed.split(","))

    assert names(returning.group(1)) == CLAIMED_COLUMNS
    assert names(summary.group(1)) == SUMMARY_COLUMNS


def test_a_cycle_makes_claimed_tasks_from_their_rows_and_the_claim_s_values() -> None:
    done = Outcome(id=3, token=TOKEN, action="complete")
    rows = [_summary_row({3: "completed"}), _claimed_row(10, priority=5), _claimed_row(11)]
    cycle, sent = run_offline(
        ops.settle_and_claim([done], "q", limit=2, lease=60.0, worker="w1"), [rows]
    )
    [stmt] = sent
    assert stmt.query is ops.Q.settle_and_claim and stmt.lone and stmt.fetch == "tuples"
    assert cycle.settled.applied == {3: "completed"} and cycle.settled.refused == []
    first = cycle.claimed[0]
    assert [t.id for t in cycle.claimed] == [10, 11] and first.priority == 5
    assert first == Task(
        tenant_id="acme",
        id=10,
        queue="q",
        task_type="t",
        agent_name=None,
        priority=5,
        input={"i": 10},
        output=None,
        status="running",
        attempts=1,
        max_attempts=5,
        retry_delay=1.0,
        run_after=NOW - timedelta(seconds=1),
        lease_expires_at=NOW + timedelta(seconds=60),
        claimed_by="w1",
        claim_token=TOKEN,
        rescues=0,
        error=None,
        session_id=None,
        entity_id=None,
        dedup_key=None,
        created_at=NOW - timedelta(seconds=2),
        updated_at=NOW,
        finished_at=None,
    )


def test_outcomes_not_applied_are_refused() -> None:
    outcomes = [Outcome(id=i, token=TOKEN, action="complete") for i in (1, 2, 3)]
    cycle, _ = run_offline(
        ops.settle_and_claim(outcomes, "q", limit=0), [[_summary_row({2: "completed"})]]
    )
    assert cycle.settled.applied == {2: "completed"} and cycle.settled.refused == [1, 3]
    assert cycle.claimed == []


def test_settling_nothing_sends_nothing() -> None:
    settled, sent = run_offline(ops.settle([]), [])
    assert sent == [] and settled.applied == {} and settled.refused == []


def test_plain_completions_travel_as_arrays_and_the_rest_as_json() -> None:
    other = uuid.uuid4()
    checked, params = settle_params(
        [
            Outcome(id=1, token=TOKEN, action="complete"),
            Outcome(id=2, token=other, action="complete", output={"ok": True}),
            Outcome(id=3, token=TOKEN, action="fail", error="boom", retry=False),
            Outcome(id=4, token=str(TOKEN), action="release"),  # type: ignore[arg-type]
            Outcome(id=5, token=TOKEN, action="complete"),
        ]
    )
    assert checked[3].token == TOKEN  # converted
    assert params["done_ids"] == [1, 5] and type(params["done_ids"]) is Bigints
    assert params["done_tokens"] == [TOKEN, TOKEN] and type(params["done_tokens"]) is Uuids
    assert params["ids"] == [2, 3, 4]
    assert json.loads(params["outcomes"]) == {
        "2": {"token": str(other), "action": "complete", "retry": True, "output": {"ok": True}},
        "3": {"token": str(TOKEN), "action": "fail", "retry": False, "error": "boom"},
        "4": {"token": str(TOKEN), "action": "release", "retry": True},
    }


def test_an_id_given_twice_is_settled_by_its_first_outcome() -> None:
    checked, params = settle_params(
        [
            Outcome(id=1, token=TOKEN, action="release"),
            Outcome(id=2, token=TOKEN, action="complete"),
            Outcome(id=1, token=TOKEN, action="complete"),
        ]
    )
    assert len(checked) == 3
    assert params["done_ids"] == [2] and params["ids"] == [1]
    assert json.loads(params["outcomes"])["1"]["action"] == "release"


@pytest.mark.parametrize(
    ("outcome", "field"),
    [
        (Outcome(id=1, token=TOKEN, action="finish"), "outcomes[1].action"),
        (Outcome(id=0, token=TOKEN, action="complete"), "outcomes[1].id"),
        (Outcome(id=1, token="nope", action="release"), "outcomes[1].token"),  # type: ignore[arg-type]
        ("complete", "outcomes[1]"),
    ],
)
def test_a_bad_outcome_is_refused_naming_it(outcome: Any, field: str) -> None:
    good = Outcome(id=9, token=TOKEN, action="complete")
    with pytest.raises(InvalidInput) as caught:
        run_offline(ops.settle_and_claim([good, outcome], "q"), [])
    assert caught.value.field == field
