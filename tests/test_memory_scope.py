"""User scope (memory_0009): "own" sees only the user's entities, "shared" (the default) also
the tenant's own and other users' shared ones; every search, listing and graph call obeys it.
Also: a merge by natural key counts as an access."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import httpx
import pytest

from agentledger import EMBEDDING_DIMENSIONS, Filter, InvalidInput, Ledger, NotFound
from agentledger.memory.facade_sync import Memory
from agentledger.memory.records import Entity


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def vector(seed: int) -> list[float]:
    return [1.0 if i == seed else 0.01 for i in range(EMBEDDING_DIMENSIONS)]


def world(mem: Memory) -> dict[str, Entity]:
    """Four "Acme" entities: alice's own, bob's shared, bob's private, the tenant's own."""
    return {
        "alice": mem.upsert("account", "Acme Alpha", user="alice", embedding=vector(1)),
        "bob_shared": mem.upsert(
            "account", "Acme Beta", user="bob", shared=True, embedding=vector(2)
        ),
        "bob": mem.upsert("account", "Acme Gamma", user="bob", embedding=vector(3)),
        "tenant": mem.upsert("account", "Acme Delta", embedding=vector(4)),
    }


@pytest.mark.pgvector
def test_every_read_of_a_user_obeys_the_scope(mem: Memory) -> None:
    w = world(mem)
    own = Filter(user="alice", scope="own")
    shared = Filter(user="alice")
    expect_own = {w["alice"].id}
    expect_shared = {w["alice"].id, w["bob_shared"].id, w["tenant"].id}
    reads: dict[str, Callable[[Filter | None], list[Entity]]] = {
        "list": lambda f: mem.list(f),
        "text": lambda f: [h.entity for h in mem.search_text("acme", filter=f)],
        "fuzzy": lambda f: [h.entity for h in mem.find_by_name("Acme", filter=f)],
        "substring": lambda f: [h.entity for h in mem.find_by_substring("cme", filter=f)],
        "hybrid": lambda f: [h.entity for h in mem.search("Acme", filter=f)],
        "vector": lambda f: [h.entity for h in mem.search_vector(vector(3), filter=f)],
        "hybrid+vector": lambda f: [
            h.entity for h in mem.search("Acme", embedding=vector(3), filter=f)
        ],
    }
    for name, read in reads.items():
        assert {e.id for e in read(own)} == expect_own, name
        assert {e.id for e in read(shared)} == expect_shared, name
        assert len({e.id for e in read(None)}) == 4, name


@pytest.mark.pgvector
def test_graph_calls_and_lookups_obey_the_scope(mem: Memory) -> None:
    w = world(mem)
    a, tenant, bob_shared = w["alice"].id, w["tenant"].id, w["bob_shared"].id
    with pytest.raises(NotFound):
        mem.get(tenant, user="alice", scope="own")
    assert mem.get(tenant, user="alice").id == tenant
    assert mem.get(a, user="alice", scope="own").id == a
    with pytest.raises(NotFound):
        mem.relate(a, tenant, "relates_to", user="alice", scope="own")
    mem.relate(a, tenant, "relates_to", user="alice")  # the shared scope sees both ends
    mem.relate(a, bob_shared, "relates_to")
    assert mem.neighbours(a, user="alice", scope="own") == []
    assert len(mem.neighbours(a, user="alice")) == 2
    assert mem.relationships([a], user="alice", scope="own") == []
    assert len(mem.relationships([a], user="alice")) == 2
    assert mem.traverse(a, user="alice", scope="own") == []
    assert {s.entity.id for s in mem.traverse(a, user="alice")} == {tenant, bob_shared}
    assert not mem.delete(tenant, user="alice", scope="own")
    assert mem.get(tenant).id == tenant  # nothing deleted


@pytest.mark.pgvector
def test_an_unknown_scope_is_refused_naming_it(mem: Memory) -> None:
    w = world(mem)
    with pytest.raises(InvalidInput) as caught:
        mem.list(Filter(user="alice", scope="mine"))
    assert caught.value.field == "scope" and "own, shared" in str(caught.value)
    with pytest.raises(InvalidInput):
        mem.get(w["alice"].id, user="alice", scope="everything")


def test_a_merge_by_key_counts_as_an_access(mem: Memory) -> None:
    first = mem.upsert("account", "Acme", key="ACC-001", source="crm", user="u1")
    assert first.access_count == 0 and first.last_accessed_at is None
    second = mem.upsert("account", None, key="ACC-001", source="crm", user="u1")
    assert second.id == first.id
    assert second.access_count == 1 and second.update_count == 1
    assert second.last_accessed_at == second.updated_at
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    third = mem.upsert("account", None, key="ACC-001", source="crm", user="u1", at=past)
    assert third.access_count == 2
    assert third.last_accessed_at == second.last_accessed_at  # a back-dated merge keeps the later


def test_the_api_takes_the_scope(writer: httpx.Client, reader: httpx.Client) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    mine = writer.post("/v1/memory/entities", json={"kind": "note", "name": "n1", "user": user})
    theirs = writer.post(
        "/v1/memory/entities",
        json={"kind": "note", "name": "n2", "user": "someone", "shared": True},
    )
    assert mine.status_code == 200 and theirs.status_code == 200, theirs.text
    listed = reader.get("/v1/memory/entities", params={"user": user, "scope": "own"})
    assert [e["name"] for e in listed.json()["items"]] == ["n1"]
    other = theirs.json()["id"]
    got = reader.get(f"/v1/memory/entities/{other}", params={"user": user, "scope": "own"})
    assert got.status_code == 404
    assert reader.get(f"/v1/memory/entities/{other}", params={"user": user}).status_code == 200
    body = {"query": "n", "mode": "substring", "filter": {"user": user, "scope": "own"}}
    assert reader.post("/v1/memory/search", json=body).status_code in (400, 422)  # too short
    body["query"] = "n1"
    hits = reader.post("/v1/memory/search", json={**body, "mode": "text"}).json()
    assert [h["entity"]["name"] for h in hits] == ["n1"]
    bad = reader.get("/v1/memory/entities", params={"user": user, "scope": "mine"})
    assert bad.status_code in (400, 422) and "scope" in bad.text
