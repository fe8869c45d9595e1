"""Traversal breadth first: each entity reached once, at its shortest depth by the least
path, in time that grows with the edges, not the paths; both faces."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from agentledger import Ledger, NewEntity, Settings
from agentledger.memory.facade_sync import Memory
from tests.conftest import new_tenant


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


@pytest.fixture(scope="module")
def impatient(settings: Settings) -> Iterator[Ledger]:
    """A ledger whose statements give up after 5 s: the walk of every simple path of a
    complete graph of 20 nodes would take minutes."""
    with Ledger(settings.with_(statement_timeout_ms=5000), migrate=False) as ledger:
        yield ledger


def _clique(mem: Memory, n: int) -> list[UUID]:
    ids = mem.upsert_many([NewEntity(kind="p", name=f"p{i:02}", key=f"p{i}") for i in range(n)]).ids
    for a in ids:
        for b in ids:
            if a != b:
                mem.relate(a, b, "knows")
    return ids


def test_a_complete_graph_of_20_is_walked_to_depth_6(impatient: Ledger) -> None:
    mem = impatient.tenant(new_tenant(impatient)).memory
    ids = _clique(mem, 20)
    for direction in ("out", "in", "both"):
        steps = mem.traverse(ids[0], max_depth=6, direction=direction, limit=100)
        assert [(s.entity.id, s.depth, s.path, s.via) for s in steps] == [
            (i, 1, [ids[0], i], "knows") for i in ids[1:]
        ]
    first = mem.traverse(ids[0], max_depth=6, limit=10)
    assert [s.entity.name for s in first] == [f"p{i:02}" for i in range(1, 11)]


def test_each_entity_once_at_its_shortest_depth_by_the_least_path(mem: Memory) -> None:
    names = ["a", "b1", "b2", "t", "c", "d", "far"]
    a, b1, b2, t, c, d, far = (mem.upsert("n", name) for name in names)
    low = min(b1, b2, key=lambda e: e.id)
    mem.relate(a.id, b1.id, "x")
    mem.relate(a.id, b2.id, "y")
    mem.relate(b1.id, t.id, "x")
    mem.relate(b2.id, t.id, "y")  # t: two shortest paths
    mem.relate(t.id, c.id, "x")
    mem.relate(c.id, a.id, "back")  # a cycle back to the start
    mem.relate(a.id, d.id, "x")
    mem.relate(d.id, c.id, "x")  # c: depth 2 through d, not 3 through t
    mem.relate(c.id, far.id, "x")
    steps = {s.entity.name: s for s in mem.traverse(a.id, max_depth=6)}
    assert {n: s.depth for n, s in steps.items()} == {
        "b1": 1,
        "b2": 1,
        "d": 1,
        "t": 2,
        "c": 2,
        "far": 3,
    }
    assert steps["t"].path == [a.id, low.id, t.id]
    assert steps["t"].via == ("x" if low.id == b1.id else "y")
    assert steps["c"].path == [a.id, d.id, c.id] and steps["far"].via == "x"
    assert {s.entity.name for s in mem.traverse(a.id, max_depth=2)} == set(steps) - {"far"}
    assert {s.entity.name: s.depth for s in mem.traverse(c.id, direction="in")} == {
        "t": 1,
        "d": 1,
        "b1": 2,
        "b2": 2,
        "a": 2,
    }
    assert [s.entity.name for s in mem.traverse(a.id, types=["y"], max_depth=6)] == ["b2", "t"]


def test_a_user_walks_only_through_what_it_sees(mem: Memory) -> None:
    a = mem.upsert("n", "a")
    hidden = mem.upsert("n", "hidden", user="u2")
    c, x, y = (mem.upsert("n", name, user="u1") for name in ("c", "x", "y"))
    mem.relate(a.id, hidden.id, "x")
    mem.relate(hidden.id, c.id, "x")
    mem.relate(a.id, x.id, "x")
    mem.relate(x.id, y.id, "x")
    mem.relate(y.id, c.id, "x")
    assert {s.entity.name: s.depth for s in mem.traverse(a.id, max_depth=6)} == {
        "hidden": 1,
        "x": 1,
        "c": 2,
        "y": 2,
    }
    seen = {s.entity.name: s.depth for s in mem.traverse(a.id, max_depth=6, user="u1")}
    assert seen == {"x": 1, "y": 2, "c": 3}
    mem.relate(x.id, a.id, "x")  # the tenant's a: not the user's own
    own = mem.traverse(x.id, max_depth=6, user="u1", scope="own", direction="both")
    assert {s.entity.name: s.depth for s in own} == {"y": 1, "c": 2}
