"""Vectors given twice for one space (by its name and as the default) and concurrent changes
of the default space; both faces, and through HTTP."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import numpy as np
import pytest

from agentledger import InvalidInput, Ledger, NewEntity, Settings
from agentledger.memory.facade_sync import Memory
from tests.conftest import new_tenant
from tests.races import at_once, rivals

pytestmark = pytest.mark.pgvector

X, Y = [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def unit(i: int, dims: int = 384) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(dims)]


def test_a_vector_without_a_space_and_one_for_the_default_by_name_are_refused(
    mem: Memory,
) -> None:
    mem.declare_space("x4", dimensions=4, default=True)
    for key in ("k", None):  # keyed (repeatable) and plain upserts
        with pytest.raises(InvalidInput) as caught:
            mem.upsert("c", "V", key=key, embedding=X, embeddings={"x4": Y})
        assert caught.value.field == "embeddings['x4']"
        assert "second vector for space 'x4'" in str(caught.value)
    with pytest.raises(InvalidInput) as caught:
        mem.upsert("c", "V", key="k", embedding=X, space="x4", embeddings={"x4": Y})
    assert caught.value.field == "embeddings['x4']"
    with pytest.raises(InvalidInput):  # the same in a batch, however many inputs it has
        mem.upsert_many([NewEntity(kind="c", name="V", key="k", embedding=X, embeddings={"x4": Y})])
    assert mem.get_by_key("k") is None and mem.stats().entities == 0  # nothing written


def test_the_built_in_default_given_twice_is_refused_not_halved(mem: Memory) -> None:
    with pytest.raises(InvalidInput) as caught:
        mem.upsert("c", "V", key="k", embedding=unit(0), embeddings={"default": unit(1)})
    assert caught.value.field == "embeddings['default']"
    assert mem.get_by_key("k") is None


def test_a_batch_repeat_naming_the_default_replaces_the_earlier_vector(mem: Memory) -> None:
    mem.declare_space("x4", dimensions=4, default=True)
    unnamed = {"kind": "c", "name": "W", "embedding": X}
    named = {"kind": "c", "name": "W", "embedding": Y, "space": "x4"}
    result = mem.upsert_many([{**unnamed, "key": "a"}, {**named, "key": "a"}])
    assert (result.inserted, result.merged) == (1, 1)
    assert np.allclose(mem.embedding(result.ids[0], space="x4"), Y)  # the later one's
    # The other way round, and into a stored entity.
    result = mem.upsert_many([{**named, "key": "a"}, {**unnamed, "key": "a"}])
    assert (result.inserted, result.merged) == (0, 2)
    assert np.allclose(mem.embedding(result.ids[0]), X)
    by_key = mem.upsert_many(
        [
            {**unnamed, "key": "b"},
            {"kind": "c", "name": "W", "key": "b", "embeddings": {"x4": Y}},
            {"kind": "c", "name": "W", "key": "b", "summary": "no vector"},
        ]
    )
    assert np.allclose(mem.embedding(by_key.ids[0], space="x4"), Y)


def test_a_batch_repeat_naming_the_built_in_default_replaces_the_earlier_vector(
    mem: Memory,
) -> None:
    result = mem.upsert_many(
        [
            {"kind": "c", "name": "W", "key": "a", "embedding": unit(0)},
            {"kind": "c", "name": "W", "key": "a", "embeddings": {"default": unit(1)}},
        ]
    )
    assert np.allclose(mem.embedding(result.ids[0]), unit(1))


def test_a_batch_with_a_vector_given_twice_over_http_is_one_write(admin: httpx.Client) -> None:
    assert admin.post("/v1/memory/spaces", json={"name": "x4", "dimensions": 4, "default": True})
    batch = [
        {"kind": "c", "name": "W", "key": "w", "embedding": X},
        {"kind": "c", "name": "W", "key": "w", "embedding": Y, "space": "x4"},
    ]
    answer = admin.post("/v1/memory/entities/batch", json={"entities": batch})
    assert answer.status_code == 200, answer.text
    ids = answer.json()["ids"]
    stored = admin.get(f"/v1/memory/entities/{ids[0]}/embedding", params={"space": "x4"})
    assert np.allclose(stored.json(), Y)
    twice: dict[str, Any] = {"kind": "c", "name": "V", "key": "v", "embedding": X}
    answer = admin.post("/v1/memory/entities", json={**twice, "embeddings": {"x4": Y}})
    assert answer.status_code == 422, answer.text
    assert "x4" in answer.text


def test_concurrent_changes_of_the_default_space_all_succeed_and_leave_one(
    settings: Settings, sync_ledger: Ledger
) -> None:
    tenant = new_tenant(sync_ledger)
    mem = sync_ledger.tenant(tenant).memory
    mem.declare_space("a", dimensions=4)
    mem.declare_space("b", dimensions=4)
    with rivals(settings, sync_ledger, tenant, "memory") as (one, two):
        for names in itertools.islice(itertools.cycle([("a", "b"), ("default", "a")]), 24):
            outcomes = at_once(
                *(
                    lambda face=face, name=name: face.set_default_space(name)
                    for face, name in zip((one, two, one, two), names * 2, strict=True)
                )
            )
            assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
            defaults = [s.name for s in mem.spaces() if s.default]
            assert len(defaults) == 1 and defaults[0] in names
        # Declaring a space as the default goes the same way.
        outcomes = at_once(
            lambda: one.declare_space("c", dimensions=4, default=True),
            lambda: two.declare_space("d", dimensions=4, default=True),
            lambda: one.set_default_space("a"),
        )
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        assert len([s for s in mem.spaces() if s.default]) == 1


def test_the_last_change_of_the_default_space_wins(mem: Memory) -> None:
    mem.declare_space("a", dimensions=4)
    mem.declare_space("b", dimensions=4, default=True)
    assert mem.set_default_space("a").default
    assert [s.name for s in mem.spaces() if s.default] == ["a"]
    assert mem.set_default_space("a").default  # again: unchanged
    assert mem.set_default_space("default").builtin
    assert [s.name for s in mem.spaces() if s.default] == ["default"]
    with pytest.raises(InvalidInput) as caught:
        mem.set_default_space("nope")
    assert caught.value.field == "name"
    assert [s.name for s in mem.spaces() if s.default] == ["default"]  # nothing changed
    mem.set_default_space("b")
    with pytest.raises(InvalidInput):
        mem.set_default_space("nope")
    assert [s.name for s in mem.spaces() if s.default] == ["b"]
