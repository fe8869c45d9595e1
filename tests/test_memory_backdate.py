"""Back-dated memory upserts (``at``): the times they store, what they refuse, and retention
seeing them as old; both faces and HTTP."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from agentledger import InvalidInput, Ledger, NewEntity
from agentledger.memory.facade_sync import Memory

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
OLD = NOW - dt.timedelta(days=40)
LATER = NOW - dt.timedelta(days=10)


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def test_a_new_entity_is_created_and_updated_at_the_given_moment(mem: Memory) -> None:
    keyed = mem.upsert("contact", "Ann", key="a", at=OLD)
    assert keyed.created_at == keyed.updated_at == OLD
    assert mem.get_by_key("a") == keyed
    unkeyed = mem.upsert("fact", "likes tea", at=LATER)  # no natural key: never spooled
    assert unkeyed.created_at == unkeyed.updated_at == LATER


def test_a_merge_moves_updated_at_only(mem: Memory) -> None:
    first = mem.upsert("contact", "Ann", key="a", at=OLD)
    second = mem.upsert("contact", "Ann", key="a", attrs={"x": 1}, at=LATER)
    assert second.id == first.id and second.update_count == 1
    assert (second.created_at, second.updated_at) == (OLD, LATER)
    third = mem.upsert("contact", "Ann", key="a")  # no moment: now, as before
    assert third.created_at == OLD and third.updated_at >= NOW


@pytest.mark.parametrize(
    "at",
    [
        OLD.replace(tzinfo=None),
        NOW + dt.timedelta(days=1),
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),
    ],
    ids=["naive", "future", "before-year-1"],
)
def test_a_naive_future_or_ancient_moment_is_refused_and_nothing_is_written(
    mem: Memory, at: dt.datetime
) -> None:
    with pytest.raises(InvalidInput) as info:
        mem.upsert("contact", "Ann", key="a", at=at)
    assert info.value.field == "at"
    with pytest.raises(InvalidInput) as info:
        mem.upsert("fact", "likes tea", at=at)
    assert info.value.field == "at"
    with pytest.raises(InvalidInput) as info:
        mem.upsert_many(
            [NewEntity(kind="fact", name="fine"), NewEntity(kind="fact", name="late", at=at)]
        )
    assert info.value.field == "at"
    assert mem.stats().entities == 0


def test_a_batch_dates_each_input_as_one_by_one_upserts_would(ledger: Ledger) -> None:
    inputs = [
        NewEntity(kind="contact", name="Ann", key="a", at=OLD),
        NewEntity(kind="contact", name="Bob", key="b", at=OLD),
        NewEntity(kind="contact", name=None, key="a", attrs={"x": 1}, at=LATER),
    ]
    seen = []
    for batch in (True, False):
        tid = f"t-{uuid.uuid4().hex[:12]}"
        ledger.tenants.create(tid, f"Tenant {tid}")
        mem = ledger.tenant(tid).memory
        if batch:
            assert mem.upsert_many(inputs).inserted == 2
        else:
            for e in inputs:
                mem.upsert(e.kind, e.name, key=e.key, attrs=e.attrs, at=e.at)
        times = {}
        for key in ("a", "b"):
            entity = mem.get_by_key(key)
            assert entity is not None
            times[key] = (entity.created_at, entity.updated_at, entity.update_count)
        seen.append(times)
    assert seen[0] == seen[1] == {"a": (OLD, LATER, 1), "b": (OLD, OLD, 0)}


def test_a_merge_dated_earlier_never_moves_updated_at_back(ledger: Ledger) -> None:
    """An import replaying older history into a newer entity: the entity keeps its latest
    change's time, so retention does not take it for old."""
    inputs = [
        NewEntity(kind="contact", name="Bob", key="b"),
        NewEntity(kind="contact", name=None, key="b", attrs={"old": True}, at=OLD),
        NewEntity(kind="contact", name="Cy", key="c", at=LATER),
        NewEntity(kind="contact", name=None, key="c", attrs={"older": True}, at=OLD),
    ]
    for batch in (True, False):
        tid = f"t-{uuid.uuid4().hex[:12]}"
        ledger.tenants.create(tid, f"Tenant {tid}")
        mem = ledger.tenant(tid).memory
        if batch:
            mem.upsert_many(inputs)
        else:
            for e in inputs:
                mem.upsert(e.kind, e.name, key=e.key, attrs=e.attrs, at=e.at)
        bob, cy = mem.get_by_key("b"), mem.get_by_key("c")
        assert bob is not None and cy is not None
        assert bob.updated_at >= NOW and bob.attrs == {"old": True}, batch
        assert (cy.created_at, cy.updated_at) == (LATER, LATER), batch
        assert mem.retain(older_than_days=30).affected == 0


def test_a_batch_input_without_a_moment_is_now_after_a_dated_one(mem: Memory) -> None:
    mem.upsert_many(
        [
            NewEntity(kind="contact", name="Ann", key="a", at=OLD),
            NewEntity(kind="contact", name="Ann", key="a"),
        ]
    )
    entity = mem.get_by_key("a")
    assert entity is not None
    assert entity.created_at == OLD and entity.updated_at >= NOW


def test_retention_removes_exactly_the_back_dated_entities(mem: Memory) -> None:
    mem.upsert("fact", "old one", key="o1", at=OLD)
    mem.upsert_many([NewEntity(kind="fact", name="old two", key="o2", at=OLD)])
    fresh = mem.upsert("fact", "fresh", key="f")
    assert mem.retain(older_than_days=30).affected == 2
    assert [e.id for e in mem.list()] == [fresh.id]


def test_http_takes_the_moment_of_a_write(writer: httpx.Client) -> None:
    key = f"crm:{uuid.uuid4().hex[:6]}"
    body = {"kind": "contact", "name": "Ann", "key": key, "source": "crm"}
    first = writer.post("/v1/memory/entities", json={**body, "at": OLD.isoformat()})
    assert first.status_code == 200, first.text
    created = first.json()
    assert dt.datetime.fromisoformat(created["created_at"]) == OLD
    assert dt.datetime.fromisoformat(created["updated_at"]) == OLD
    batch = writer.post(
        "/v1/memory/entities/batch", json={"entities": [{**body, "at": LATER.isoformat()}]}
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["ids"] == [created["id"]]
    merged = writer.get(f"/v1/memory/entities/{created['id']}").json()
    assert dt.datetime.fromisoformat(merged["created_at"]) == OLD
    assert dt.datetime.fromisoformat(merged["updated_at"]) == LATER
    naive = writer.post(
        "/v1/memory/entities",
        json={**body, "key": f"{key}-n", "at": OLD.replace(tzinfo=None).isoformat()},
    )
    assert naive.status_code == 422 and naive.json()["field"] == "at"
    missing = writer.get("/v1/memory/entities/by-key", params={"key": f"{key}-n", "source": "crm"})
    assert missing.status_code == 404
