"""Records built on the hot paths are the same records the dataclass would build: same
class, same fields, still frozen."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import uuid

import pytest

from agentledger.records import builder
from agentledger.tasks.records import Outcome


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
