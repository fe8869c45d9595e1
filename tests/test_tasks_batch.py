"""Enqueueing without a database: one field table drives both inserts' parameters, and a
batch's shared fields travel once (fed by run_offline)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from agentledger import InvalidInput, NewTask
from agentledger.db.statements import Query, Stmt, run_offline
from agentledger.tasks import ops
from agentledger.tasks.batch import BATCH_ARRAYS, SHAREABLE, Repeated, batch_columns, plain_batch


def _placeholders(query: Query) -> set[str]:
    return set(re.findall(r"%\((\w+)\)[sb]", query.sql))


def _params(stmt: Stmt) -> Mapping[str, Any]:
    assert isinstance(stmt.params, Mapping)
    return stmt.params


def test_one_table_names_every_field_and_every_parameter() -> None:
    fields = [f.name for f in dataclasses.fields(NewTask)]
    assert sorted(BATCH_ARRAYS) == sorted(fields)
    assert _placeholders(ops.Q.enqueue) == set(fields)
    assert _placeholders(ops.Q.enqueue_many) == set(BATCH_ARRAYS.values())
    plain = _placeholders(ops.Q.enqueue_many_plain)
    assert plain == {BATCH_ARRAYS[f] for f in ("input", *SHAREABLE)} | set(SHAREABLE)
    assert set(plain_batch(batch_columns("q", [{"i": 1}]))) == plain


def test_a_batch_of_plain_inputs_sends_every_other_field_once() -> None:
    ids, sent = run_offline(
        ops.enqueue_many("q", [{"i": 1}, {"i": 2}]), [[{"id": 5}, {"id": 6}], None]
    )
    assert ids == [5, 6]
    insert, notify = sent
    assert insert.query is ops.Q.enqueue_many_plain and notify.query is ops.Q.notify_queues
    params = _params(insert)
    assert params["inputs"] == ['{"i": 1}', '{"i": 2}']
    assert params["queue"] == "q" and params["queues"] is None
    assert params["max_attempts"] == 5 and params["attempt_limits"] is None
    assert notify.params == {"queues": ["q"]}


def test_a_field_that_differs_travels_per_task() -> None:
    later = datetime(2030, 1, 1, tzinfo=UTC)
    columns = batch_columns("q", [NewTask(input={}, priority=2), NewTask(run_after=later)])
    assert type(columns["priorities"]) is not Repeated
    params = plain_batch(columns)
    assert params["priorities"] == [2, 0] and params["priority"] is None
    assert params["run_afters"] == [None, later] and params["run_after"] is None
    assert params["queues"] is None and params["queue"] == "q"  # equal, though not marked


def test_dedup_keys_take_the_deduplicating_insert() -> None:
    batch: list[NewTask | dict[str, Any]] = [NewTask(input={"i": 1}, dedup_key="k"), {"i": 2}]
    _, sent = run_offline(ops.enqueue_many("q", batch), [[{"id": 1}, {"id": 2}], None])
    assert sent[0].query is ops.Q.enqueue_many
    assert _params(sent[0])["dedup_keys"] == ["k", None]


def test_an_empty_batch_sends_nothing() -> None:
    assert run_offline(ops.enqueue_many("q", []), []) == ([], [])


@pytest.mark.parametrize(
    ("task", "field"),
    [
        (NewTask(priority=2**31), "tasks[1].priority"),
        (NewTask(run_after=datetime(2030, 1, 1)), "tasks[1].run_after"),
        (NewTask(input={"bad": float("nan")}), "tasks[1].input.bad"),
        ({"text": "nul\x00"}, "tasks[1].text"),
    ],
)
def test_a_bad_task_is_refused_naming_it(task: NewTask | dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        run_offline(ops.enqueue_many("q", [{"i": 0}, task]), [])
    assert caught.value.field == field
