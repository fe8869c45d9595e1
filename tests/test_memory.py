"""Memory entities: merge-upsert, lookup, user scoping, tenant isolation, bad input; both faces."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from agentledger import (
    EMBEDDING_DIMENSIONS,
    Filter,
    InvalidInput,
    Ledger,
    MissingExtension,
    NewEntity,
    NotFound,
)
from agentledger.memory import ListPosition
from agentledger.memory.facade_sync import Memory


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def test_upsert_merges_attrs_never_overwriting_with_null(mem: Memory) -> None:
    first = mem.upsert(
        "contact",
        "John Smith",
        key="c-1",
        source="crm",
        summary="CFO at Acme",
        attrs={"email": "john@acme.test", "style": "terse"},
        tags=["vip"],
    )
    assert first.update_count == 0 and first.user_id is None
    second = mem.upsert(
        "contact",
        "John Smith",
        key="c-1",
        source="crm",
        attrs={"style": None, "channel": "email"},
        tags=["board", "vip"],
    )
    assert second.id == first.id
    assert second.attrs == {"email": "john@acme.test", "style": "terse", "channel": "email"}
    assert second.summary == "CFO at Acme"
    assert second.tags == ["board", "vip"]
    assert second.update_count == 1
    assert second.updated_at >= first.updated_at
    assert mem.get_by_key("c-1", source="crm") == second
    assert mem.get_by_key("c-1", source="other") is None


def test_upsert_by_name_dedups_case_and_space_insensitively(mem: Memory) -> None:
    a = mem.upsert("deal", "Project  Atlas", by_name=True, attrs={"stage": "lead"})
    b = mem.upsert("deal", "project atlas", by_name=True, attrs={"value": 5})
    assert a.id == b.id and b.attrs == {"stage": "lead", "value": 5}
    found = mem.get_by_key(kind="deal", name="PROJECT ATLAS")
    assert found is not None and found.id == a.id
    # No key and no by_name: always a new entity.
    c = mem.upsert("deal", "Project Atlas")
    assert c.id != a.id


def test_batch_upsert_merges_duplicates_and_reports_ids_in_order(mem: Memory) -> None:
    items = [NewEntity(kind="fact", name=f"fact {i}", key=f"k{i}") for i in range(500)]
    items.append(NewEntity(kind="fact", name="fact 3", key="k3", attrs={"x": 1}))
    result = mem.upsert_many(items)
    assert result.inserted == 500 and result.merged == 1
    assert result.ids[3] == result.ids[500]
    assert mem.get(result.ids[3]).attrs == {"x": 1}
    again = mem.upsert_many([{"kind": "fact", "name": "fact 0", "key": "k0", "tags": ["t"]}])
    assert again.inserted == 0 and again.ids == [result.ids[0]]
    assert mem.get(result.ids[0]).update_count == 1


def test_batch_update_counts_match_one_by_one_upserts(mem: Memory) -> None:
    """Each input merged into an entity counts once in update_count, whether it came in the
    same batch as the insert, in a later batch, or alone."""

    def item(**extra: Any) -> NewEntity:
        return NewEntity(kind="fact", name="repeated", key="rep", **extra)

    first = mem.upsert_many([item(), item(attrs={"n": 2})])
    assert (first.inserted, first.merged) == (1, 1)
    assert mem.get(first.ids[0]).update_count == 1
    mem.upsert_many([item(), item(), item(tags=["t"])])
    assert mem.get(first.ids[0]).update_count == 4
    alone = mem.upsert("fact", "repeated", key="rep")
    assert alone.update_count == 5 and alone.attrs == {"n": 2} and alone.tags == ["t"]


def test_touch_records_the_access(ledger: Ledger, mem: Memory) -> None:
    e = mem.upsert("fact", "sky is blue")
    assert e.access_count == 0 and e.last_accessed_at is None
    mem.get(e.id, touch=True)
    mem.search_text("sky", touch=True)
    ledger.flush_access()  # counted by the ledger, written in batches (test_memory_access.py)
    after = mem.get(e.id)
    assert after.access_count == 2 and after.last_accessed_at is not None


def test_user_scoping(mem: Memory) -> None:
    mine = mem.upsert("preference", "likes tea", user="alice", key="drink")
    theirs = mem.upsert("preference", "likes coffee", user="bob", key="drink")
    shared = mem.upsert("fact", "alice shares this", user="alice", shared=True)
    common = mem.upsert("fact", "tenant-wide fact")
    assert mine.id != theirs.id  # same key, different users: two entities
    bob_sees = {e.id for e in mem.list(Filter(user="bob"))}
    assert bob_sees == {theirs.id, shared.id, common.id}
    with pytest.raises(NotFound):
        mem.get(mine.id, user="bob")
    assert mem.get(mine.id, user="alice") == mine
    by_key = mem.get_by_key("drink", user="alice")
    assert by_key is not None and by_key.id == mine.id
    assert not mem.delete(mine.id, user="bob")
    assert len(mem.list()) == 4  # the tenant itself sees everything


def test_tenant_isolation(ledger: Ledger, tenant_id: str) -> None:
    other = f"o-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(other)
    a = ledger.tenant(tenant_id).memory.upsert("contact", "Shared Name", key="same")
    b = ledger.tenant(other).memory.upsert("contact", "Shared Name", key="same")
    assert a.id != b.id
    with pytest.raises(NotFound):
        ledger.tenant(other).memory.get(a.id)
    with pytest.raises(NotFound):
        ledger.tenant(other).memory.relate(b.id, a.id, "relates_to")
    assert [h.entity.id for h in ledger.tenant(other).memory.search_text("Shared")] == [b.id]


def test_filters_compare_numbers_and_dates_as_such(mem: Memory) -> None:
    from datetime import date

    small = mem.upsert("deal", "small", attrs={"value": 9, "closed": "2024-02-01"})
    big = mem.upsert("deal", "big", attrs={"value": 100, "closed": "2024-11-15"})
    mem.upsert("contact", "person", attrs={"value": 500}, tags=["x"])
    # As text "9" > "100"; as numbers it is not.
    found = mem.list(Filter(kind="deal", where=[("value", ">", 10)]))
    assert [e.id for e in found] == [big.id]
    found = mem.list(Filter(where=[("closed", "<", date(2024, 6, 1))]))
    assert [e.id for e in found] == [small.id]
    # Zoned and unzoned moments compare each with their own kind (never an error).
    from datetime import UTC

    stamps = {"d": "2024-03-01", "t": "2024-03-01T10:00:00", "z": "2024-03-01T10:00:00+02:00"}
    made = {k: mem.upsert("stamp", k, attrs={"at": at}).id for k, at in stamps.items()}
    for given, expected in (
        (date(2024, 3, 2), {"d", "t"}),
        (datetime(2024, 3, 1, 12), {"d", "t"}),
        (datetime(2024, 3, 1, 9, tzinfo=UTC), {"z"}),
        (datetime(2024, 3, 1, 7, tzinfo=UTC), set()),
    ):
        found = mem.list(Filter(kind="stamp", where=[("at", "<", given)]))
        assert {e.id for e in found} == {made[k] for k in expected}, given
    assert [e.name for e in mem.list(Filter(attrs={"value": 500}))] == ["person"]
    assert [e.name for e in mem.list(Filter(tags=["x"]))] == ["person"]
    assert len(mem.list(Filter(kind=["deal", "contact"]))) == 3


def test_keyset_pages(mem: Memory) -> None:
    mem.upsert_many([NewEntity(kind="fact", name=f"n{i}") for i in range(7)])
    first = mem.list(limit=4)
    rest = mem.list(after=first[-1], limit=4)
    assert len(first) == 4 and len(rest) == 3
    assert not {e.id for e in first} & {e.id for e in rest}
    # A position outlives its entity: the next page is the same once that entity is gone.
    position = ListPosition(at=first[-1].updated_at, id=first[-1].id)
    mem.delete(first[-1].id)
    assert mem.list(after=position, limit=4) == rest
    with pytest.raises(InvalidInput) as naive:
        mem.list(after=ListPosition(at=datetime(2024, 1, 1), id=first[0].id))
    assert naive.value.field == "after"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "nul\x00byte"}, "name"),
        ({"attrs": {"big": "x" * 300_000}}, "attrs"),
        ({"attrs": {"k": "nul\x00"}}, "attrs.k"),
        ({"relevance": 2.0}, "relevance"),
        ({"embedding": [0.1, 0.2, 0.3]}, "embedding"),
        ({"embedding": [float("nan")] * EMBEDDING_DIMENSIONS}, "embedding"),
        ({"key": "k", "by_name": True}, "key"),
        ({"kind": ""}, "kind"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    mem: Any, kwargs: dict[str, Any], field: str, server_has_vector: bool
) -> None:
    args = {"kind": "fact", "name": "ok", **kwargs}
    # A well-formed vector of the wrong size needs its space, hence pgvector, to be judged.
    sized = not server_has_vector and kwargs.get("embedding") == [0.1, 0.2, 0.3]
    with pytest.raises(MissingExtension if sized else InvalidInput) as info:
        mem.upsert(args.pop("kind"), args.pop("name"), **args)
    if not sized:
        assert info.value.field == field
    assert mem.stats().entities == 0


def test_bad_batch_writes_nothing(mem: Memory) -> None:
    items = [NewEntity(kind="fact", name=f"n{i}") for i in range(5)]
    items.append(NewEntity(kind="fact", name="bad\x00"))
    with pytest.raises(InvalidInput, match="NUL"):
        mem.upsert_many(items)
    assert mem.stats().entities == 0


def test_bad_ids_and_filters(mem: Memory) -> None:
    with pytest.raises(InvalidInput):
        mem.get("not-a-uuid")
    with pytest.raises(NotFound):
        mem.get(uuid.uuid4())
    with pytest.raises(InvalidInput, match="operator"):
        mem.list(Filter(where=[("value", "~", 1)]))
    with pytest.raises(InvalidInput):
        mem.list(limit=0)
