"""Relationships, traversal, retention, stats and concurrent upserts of one entity."""

from __future__ import annotations

import threading
import uuid

import pytest

from agentledger import InvalidInput, Ledger, NewEntity, NotFound, Settings
from agentledger.memory.facade_sync import Memory


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def test_relationships_are_unique_typed_and_deleted_with_entities(mem: Memory) -> None:
    a, b, c = (mem.upsert("fact", n) for n in "abc")
    r1 = mem.relate(a.id, b.id, "led_to", weight=0.5, attrs={"why": "x"})
    r2 = mem.relate(a.id, b.id, "led_to", weight=0.9, attrs={"how": "y"})
    assert r1.id == r2.id and r2.weight == pytest.approx(0.9)
    assert r2.attrs == {"why": "x", "how": "y"}
    mem.relate(a.id, b.id, "my_own_type")
    mem.relate(c.id, a.id, "depends_on")
    out = mem.neighbours(a.id, direction="out")
    assert {(n.entity.name, n.relationship.type) for n in out} == {
        ("b", "led_to"),
        ("b", "my_own_type"),
    }
    both = mem.neighbours(a.id, types=["depends_on"])
    assert [(n.entity.name, n.direction) for n in both] == [("c", "in")]
    assert mem.unrelate(a.id, b.id, "my_own_type")
    mem.delete(b.id)
    assert [n.entity.name for n in mem.neighbours(a.id)] == ["c"]
    assert mem.stats().relationships == 1


def test_bad_relationships(mem: Memory) -> None:
    a = mem.upsert("fact", "a")
    with pytest.raises(NotFound):
        mem.relate(a.id, uuid.uuid4(), "relates_to")
    with pytest.raises(InvalidInput):
        mem.relate(a.id, a.id, "relates_to")
    with pytest.raises(InvalidInput):
        mem.relate(a.id, "nope", "relates_to")
    b = mem.upsert("fact", "b")
    for weight in (1e39, 1e-50):  # a real column's single precision: named before the write
        with pytest.raises(InvalidInput) as info:
            mem.relate(a.id, b.id, "relates_to", weight=weight)
        assert info.value.field == "weight"
    assert mem.stats().relationships == 0


def test_traversal_is_bounded_and_cycle_safe(mem: Memory) -> None:
    ids = mem.upsert_many([NewEntity(kind="fact", name=f"n{i}") for i in range(5)]).ids
    for i in range(5):  # a ring: n0 -> n1 -> ... -> n4 -> n0
        mem.relate(ids[i], ids[(i + 1) % 5], "led_to")
    steps = mem.traverse(ids[0], max_depth=6)
    assert [(s.entity.name, s.depth) for s in steps] == [
        ("n1", 1),
        ("n2", 2),
        ("n3", 3),
        ("n4", 4),
    ]
    assert steps[-1].path == ids
    assert [s.entity.name for s in mem.traverse(ids[0], max_depth=2)] == ["n1", "n2"]
    near = mem.traverse(ids[0], max_depth=1, direction="both")
    assert {s.entity.name for s in near} == {"n1", "n4"}
    with pytest.raises(InvalidInput):
        mem.traverse(ids[0], max_depth=99)


def test_traversal_and_neighbours_respect_user_scope(mem: Memory) -> None:
    a = mem.upsert("fact", "public")
    hidden = mem.upsert("fact", "bob's", user="bob")
    beyond = mem.upsert("fact", "beyond")
    mem.relate(a.id, hidden.id, "led_to")
    mem.relate(hidden.id, beyond.id, "led_to")
    assert mem.traverse(a.id, max_depth=3, user="alice") == []
    assert [s.entity.name for s in mem.traverse(a.id, max_depth=3, user="bob")] == [
        "bob's",
        "beyond",
    ]
    assert mem.neighbours(a.id, user="alice") == []
    with pytest.raises(NotFound):
        mem.relate(a.id, hidden.id, "relates_to", user="alice")


def test_retention_deletes_or_archives_in_batches(mem: Memory) -> None:
    mem.upsert_many(
        [NewEntity(kind="fact", name=f"low {i}", relevance=0.1) for i in range(25)]
        + [NewEntity(kind="fact", name=f"high {i}", relevance=0.9) for i in range(5)]
        + [
            NewEntity(kind="fact", name=f"alice {i}", relevance=0.1, user_id="alice")
            for i in range(3)
        ]
    )
    archived = mem.retain(below_relevance=0.5, user="alice", action="archive", batch_size=2)
    assert (archived.affected, archived.batches) == (3, 2)
    assert mem.stats(user="alice").archived == 3
    assert len(mem.list()) == 30  # archived ones are left out of reads by default
    deleted = mem.retain(below_relevance=0.5, batch_size=10)
    assert (deleted.affected, deleted.batches) == (28, 3)
    assert mem.retain(older_than_days=1).affected == 0  # everything is fresh
    assert mem.retain(older_than_days=0).affected == 5
    with pytest.raises(InvalidInput):
        mem.retain()


def test_stats_by_kind_and_user(mem: Memory) -> None:
    mem.upsert("contact", "c1")
    mem.upsert("deal", "d1", user="alice")
    mem.upsert("deal", "d2", user="alice")
    s = mem.stats()
    assert (s.entities, s.active, s.by_kind) == (3, 3, {"contact": 1, "deal": 2})
    assert s.last_activity is not None
    assert mem.stats(user="alice").by_kind == {"deal": 2}
    assert mem.stats(user="nobody").entities == 0


def test_concurrent_upserts_of_one_entity_lose_nothing(
    settings: Settings, sync_ledger: Ledger
) -> None:
    tid = f"c-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tid)
    workers, rounds = 6, 15
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with Ledger(settings, migrate=False) as ledger:
                mem = ledger.tenant(tid).memory
                barrier.wait()
                for r in range(rounds):
                    mem.upsert(
                        "contact", "Concurrent", key="same", attrs={f"w{n}r{r}": r}, tags=[f"t{n}"]
                    )
                    mem.upsert_many(
                        [
                            NewEntity(
                                kind="contact", name="Concurrent", key="same", attrs={f"b{n}": r}
                            )
                        ]
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    mem = sync_ledger.tenant(tid).memory
    assert mem.stats().entities == 1
    entity = mem.get_by_key("same")
    assert entity is not None
    assert len(entity.attrs) == workers * rounds + workers
    assert entity.tags == sorted(f"t{n}" for n in range(workers))
    assert entity.update_count == 2 * workers * rounds - 1
