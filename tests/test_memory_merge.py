"""Memory upserts that keep the stored name, and deep attribute merges; both faces and HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agentledger import InvalidInput, Ledger, NewEntity
from agentledger.memory.facade_sync import Memory


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def test_an_upsert_without_a_name_keeps_the_stored_one(mem: Memory) -> None:
    first = mem.upsert("contact", "John Smith", key="c-1", source="crm", attrs={"a": 1})
    second = mem.upsert("contact", None, key="c-1", source="crm", attrs={"b": 2})
    assert second.id == first.id and second.name == "John Smith"
    assert second.attrs == {"a": 1, "b": 2} and second.update_count == 1
    renamed = mem.upsert("contact", "John A. Smith", key="c-1", source="crm")
    assert renamed.name == "John A. Smith"


def test_a_batch_item_without_a_name_keeps_the_stored_one(mem: Memory) -> None:
    stored = mem.upsert("fact", "stored", key="k1")
    result = mem.upsert_many(
        [
            NewEntity(kind="fact", name=None, key="k1", attrs={"x": 1}),
            NewEntity(kind="fact", name="fresh", key="k2"),
            NewEntity(kind="fact", name=None, key="k2", attrs={"y": 2}),
        ]
    )
    assert result.ids[0] == stored.id and result.inserted == 1 and result.merged == 2
    assert mem.get(stored.id).name == "stored"
    assert mem.get(result.ids[1]).name == "fresh" and mem.get(result.ids[1]).attrs == {"y": 2}


def test_a_new_entity_without_a_name_is_refused_and_nothing_is_written(mem: Memory) -> None:
    with pytest.raises(InvalidInput, match="a new entity needs a name") as info:
        mem.upsert("contact", None, key="nobody", source="crm")
    assert info.value.field == "name"
    mem.upsert("fact", "kept", key="k1")
    with pytest.raises(InvalidInput, match="a new entity needs a name") as info:
        mem.upsert_many(
            [
                NewEntity(kind="fact", name="new", key="k0"),
                NewEntity(kind="fact", name=None, key="k1", attrs={"x": 1}),
                NewEntity(kind="fact", name=None, key="k2"),
            ]
        )
    assert info.value.field == "name"
    assert mem.stats().entities == 1 and mem.get_by_key("k1") is not None
    assert mem.get_by_key("k1").attrs == {}  # type: ignore[union-attr]
    # A name is required where it is the key, and where there is no key.
    for kwargs in ({"by_name": True}, {}):
        with pytest.raises(InvalidInput) as info:
            mem.upsert("fact", None, **kwargs)  # type: ignore[arg-type]
        assert info.value.field == "name"
    assert mem.stats().entities == 1


NESTED = {"profile": {"address": {"city": "Paris", "zip": "75001"}, "lang": "fr"}, "tags": [1, 2]}
UPDATE = {"profile": {"address": {"city": "Lyon", "zip": None, "street": None}}, "tags": [3]}


def test_deep_merge_merges_nested_objects_and_never_overwrites_with_null(mem: Memory) -> None:
    mem.upsert("contact", "Ann", key="a", attrs=NESTED)
    merged = mem.upsert("contact", "Ann", key="a", attrs=UPDATE, merge="deep")
    assert merged.attrs == {
        "profile": {"address": {"city": "Lyon", "zip": "75001"}, "lang": "fr"},
        "tags": [3],
    }
    # A null is not stored either, at any depth, and a scalar or array replaces an object.
    fresh = mem.upsert("contact", "Bo", key="b", attrs=UPDATE, merge="deep")
    assert fresh.attrs == {"profile": {"address": {"city": "Lyon"}}, "tags": [3]}
    flat = mem.upsert("contact", "Bo", key="b", attrs={"profile": "gone"}, merge="deep")
    assert flat.attrs == {"profile": "gone", "tags": [3]}


def test_shallow_merge_stays_the_default(mem: Memory) -> None:
    mem.upsert("contact", "Ann", key="a", attrs=NESTED)
    merged = mem.upsert("contact", "Ann", key="a", attrs={"profile": {"lang": "en"}})
    assert merged.attrs == {"profile": {"lang": "en"}, "tags": [1, 2]}
    batch = mem.upsert_many([NewEntity(kind="contact", name="Ann", key="a", attrs=NESTED)])
    assert mem.get(batch.ids[0]).attrs == NESTED
    explicit = mem.upsert("contact", "Ann", key="a", attrs={"profile": {}}, merge="shallow")
    assert explicit.attrs == {"profile": {}, "tags": [1, 2]}


@pytest.mark.parametrize(
    "inputs",
    [
        [UPDATE, {"profile": {"address": {"floor": 3}, "lang": None}}],
        # An object where the same batch put a scalar: the stored object is not merged in.
        [{"profile": 7}, {"profile": {"lang": "de"}}, {"profile": {"x": {"y": 1}}}],
    ],
)
def test_a_deep_batch_equals_one_by_one_upserts(
    ledger: Ledger, inputs: list[dict[str, Any]]
) -> None:
    seen = []
    for batch in (True, False):
        tid = f"t-{uuid.uuid4().hex[:12]}"
        ledger.tenants.create(tid, f"Tenant {tid}")
        mem = ledger.tenant(tid).memory
        mem.upsert("contact", "Ann", key="a", attrs=NESTED)
        items = [NewEntity(kind="contact", name=None, key="a", attrs=a) for a in inputs]
        if batch:
            result = mem.upsert_many(items, merge="deep")
            assert result.inserted == 0 and result.merged == len(inputs)
        else:
            for a in inputs:
                mem.upsert("contact", None, key="a", attrs=a, merge="deep")
        entity = mem.get_by_key("a")
        assert entity is not None
        seen.append((entity.attrs, entity.update_count, entity.name))
    assert seen[0] == seen[1]
    assert seen[0][1] == len(inputs) and seen[0][2] == "Ann"


def test_an_unknown_merge_is_refused(mem: Memory) -> None:
    with pytest.raises(InvalidInput) as info:
        mem.upsert("fact", "f", key="k", merge="bogus")
    assert info.value.field == "merge"
    with pytest.raises(InvalidInput) as info:
        mem.upsert_many([NewEntity(kind="fact", name="f", key="k")], merge="bogus")
    assert info.value.field == "merge"
    assert mem.stats().entities == 0


def test_http_keeps_the_name_and_merges_deep(writer: httpx.Client) -> None:
    key = f"crm:{uuid.uuid4().hex[:6]}"
    body = {"kind": "contact", "key": key, "source": "crm"}
    refused = writer.post("/v1/memory/entities", json={**body, "attrs": NESTED})
    assert refused.status_code == 422 and refused.json()["field"] == "name"
    assert "a new entity needs a name" in refused.json()["detail"]
    first = writer.post("/v1/memory/entities", json={**body, "name": "Ann", "attrs": NESTED})
    second = writer.post(
        "/v1/memory/entities", json={**body, "attrs": UPDATE, "merge": "deep"}
    ).json()
    assert second["id"] == first.json()["id"] and second["name"] == "Ann"
    assert second["attrs"]["profile"] == {"address": {"city": "Lyon", "zip": "75001"}, "lang": "fr"}
    batch = writer.post(
        "/v1/memory/entities/batch",
        json={"entities": [{**body, "attrs": {"profile": {"lang": "en"}}}], "merge": "deep"},
    ).json()
    assert batch["ids"] == [second["id"]]
    third = writer.get(f"/v1/memory/entities/{second['id']}").json()
    assert third["name"] == "Ann" and third["attrs"]["profile"]["address"]["city"] == "Lyon"
    bogus = writer.post("/v1/memory/entities", json={**body, "merge": "bogus"})
    assert bogus.status_code == 422
