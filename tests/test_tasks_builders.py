"""Records built on the worker's hot path are the records the dataclass would build: same
class, same fields, still frozen; a builder sets every field, by name, exactly once."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import uuid
from datetime import datetime

import pytest

from agentledger.tasks.builders import builder, row_builder
from agentledger.tasks.records import Outcome, Settled


def test_a_built_record_is_the_dataclass_s_own() -> None:
    token = uuid.uuid4()
    built = builder(Outcome)(7, token, "fail", None, "boom", False)
    made = Outcome(id=7, token=token, action="fail", error="boom", retry=False)
    assert type(built) is Outcome and built == made and hash(built) == hash(made)
    assert dataclasses.asdict(built) == dataclasses.asdict(made)
    assert pickle.loads(pickle.dumps(built)) == made
    assert copy.copy(built) == made
    assert dataclasses.replace(built, retry=True).retry is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.id = 8  # type: ignore[misc]


def test_a_builder_takes_every_field_in_order() -> None:
    with pytest.raises(TypeError):
        builder(Outcome)(7, uuid.uuid4(), "fail")  # the defaults are not filled in


def test_a_row_builder_reads_columns_by_position_and_shares_the_rest() -> None:
    token = uuid.uuid4()
    make = row_builder(Outcome, ("action", "id", "output"), shared=("token", "error", "retry"))
    build = make(token=token, error=None, retry=True)
    rows = [("complete", 1, {"n": 1}, "extra column"), ("release", 2, None)]
    assert [build(row) for row in rows] == [
        Outcome(id=1, token=token, action="complete", output={"n": 1}),
        Outcome(id=2, token=token, action="release"),
    ]
    with pytest.raises(TypeError):
        make(token=token, error=None)  # every shared field is given


@pytest.mark.parametrize(
    ("columns", "shared", "message"),
    [
        (("id", "token"), ("action", "output", "error"), r"missing \['retry'\]"),
        (("id", "token", "action"), ("output", "error", "retry", "at"), r"not fields \['at'\]"),
        (("id", "token", "id"), ("action", "output", "error", "retry"), r"twice \['id'\]"),
    ],
)
def test_a_row_builder_names_every_field_exactly_once(
    columns: tuple[str, ...], shared: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        row_builder(Outcome, columns, shared=shared)


def test_only_slotted_dataclasses_have_builders() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:
        at: datetime

    with pytest.raises(TypeError, match="slotted dataclass"):
        builder(Plain)
    assert builder(Settled)({1: "completed"}, []) == Settled(applied={1: "completed"}, refused=[])
