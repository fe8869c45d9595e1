"""The relationships of a set of entities in one call: scope, direction, limits, the plan."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from agentledger import InvalidInput, Ledger, NewEntity
from agentledger.memory import graph
from agentledger.memory.facade_sync import Memory


@pytest.fixture(scope="module", autouse=True)
def statistics_only_on_request(database_url: str) -> None:
    """The plan test below reads plans for entities the statistics do not know yet. In this
    module's database, statistics of the entities change only when a test asks: without
    it, autovacuum's ANALYZE lands at a moment that depends on the machine's load."""
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("ALTER TABLE agentledger.memory_entities SET (autovacuum_enabled = false)")


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def test_the_edges_of_a_set_come_back_in_one_call(mem: Memory) -> None:
    a, b, c, d = (mem.upsert("fact", n) for n in "abcd")
    ab = mem.relate(a.id, b.id, "led_to", weight=0.9)
    ca = mem.relate(c.id, a.id, "depends_on", weight=0.5)
    cd = mem.relate(c.id, d.id, "relates_to", weight=0.2)
    mem.relate(b.id, d.id, "produces")  # touches neither a nor c
    assert [r.id for r in mem.relationships([a.id, str(c.id)])] == [ab.id, ca.id, cd.id]
    assert [r.id for r in mem.relationships([a.id], direction="out")] == [ab.id]
    assert [r.id for r in mem.relationships([a.id], direction="in")] == [ca.id]
    assert [r.id for r in mem.relationships([a.id, c.id], types=["depends_on"])] == [ca.id]
    assert [r.id for r in mem.relationships([a.id, c.id], limit=1)] == [ab.id]
    assert mem.relationships([a.id, a.id], direction="in") == mem.relationships(
        [a.id], direction="in"
    )
    assert mem.relationships([uuid.uuid4()]) == []
    assert mem.relationships([]) == []


def test_edges_of_a_set_respect_the_user_scope(mem: Memory) -> None:
    public = mem.upsert("fact", "public")
    bobs = mem.upsert("fact", "bob's", user="bob")
    shared = mem.upsert("fact", "carol's", user="carol", shared=True)
    mem.relate(public.id, bobs.id, "led_to")
    to_shared = mem.relate(public.id, shared.id, "led_to")
    assert [r.id for r in mem.relationships([public.id], user="alice")] == [to_shared.id]
    assert len(mem.relationships([public.id], user="bob")) == 2
    assert mem.relationships([bobs.id], user="alice") == []
    assert len(mem.relationships([public.id])) == 2


def test_bad_id_sets_name_ids(mem: Memory) -> None:
    for bad in (["nope"], "a-string", [uuid.uuid4()] * (graph.MAX_IDS + 1)):
        with pytest.raises(InvalidInput) as caught:
            mem.relationships(bad)
        assert caught.value.field == "ids"
    with pytest.raises(InvalidInput):
        mem.relationships([uuid.uuid4()], direction="sideways")


def test_deleting_an_entity_removes_its_edges(mem: Memory) -> None:
    a, b, c = (mem.upsert("fact", n) for n in "abc")
    mem.relate(a.id, b.id, "led_to")
    mem.relate(c.id, a.id, "led_to")
    kept = mem.relate(b.id, c.id, "led_to")
    assert mem.delete(a.id)
    assert [r.id for r in mem.relationships([a.id, b.id, c.id])] == [kept.id]
    assert mem.stats().relationships == 1


def test_edges_of_a_set_read_the_from_and_to_indexes(
    sync_ledger: Ledger, tenant_id: str, app_url: str, database_url: str
) -> None:
    mem = sync_ledger.tenant(tenant_id).memory
    ids = mem.upsert_many(NewEntity(kind="fact", name=f"n{i}") for i in range(3000)).ids
    for i in range(0, 600, 2):
        mem.relate(ids[i], ids[i + 1], "led_to")
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("VACUUM ANALYZE agentledger.memory_relationships")
    # A user's freshly loaded entities, before statistics know them: the ends of each edge
    # must still be found by primary key, not by walking the user's index.
    mem.upsert_many(NewEntity(kind="fact", name=f"m{i}", user_id="u1") for i in range(3000))
    for own in (False, True):
        params: dict[str, Any] = {
            "ids": ids[:3],
            "out": True,
            "in": True,
            "types": None,
            "user": "u1",
            "own": own,
            "limit": 1000,
        }
        with psycopg.connect(app_url) as conn, conn.transaction():
            conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
            cur = psycopg.ClientCursor(conn)
            cur.execute("EXPLAIN (COSTS OFF) " + graph.Q.relationships_of.sql, params)
            shown = "\n".join(r[0] for r in cur.fetchall())
            relate = {"from_id": ids[0], "to_id": ids[1], "type": "t", "weight": 1.0}
            cur.execute(
                "EXPLAIN (COSTS OFF) " + graph.Q.relate.sql, {**params, **relate, "attrs": "{}"}
            )
            related = "\n".join(r[0] for r in cur.fetchall())
        assert "memory_relationships_unique" in shown, shown
        assert "memory_relationships_to_idx" in shown, shown
        assert "Seq Scan on memory_relationships" not in shown, shown
        for plan in (shown, related):
            assert "memory_entities_pkey" in plan and "memory_entities_user_idx" not in plan, plan


def test_edges_of_a_set_over_http(
    writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    a, b = (
        writer.post("/v1/memory/entities", json={"kind": "fact", "name": n}).json()["id"]
        for n in ("a", "b")
    )
    edge = writer.post(
        "/v1/memory/relationships", json={"from_id": a, "to_id": b, "type": "led_to"}
    ).json()
    query = {"ids": [a], "direction": "out"}
    got = reader.post("/v1/memory/relationships/query", json=query)
    assert got.status_code == 200, got.text
    assert [r["id"] for r in got.json()] == [edge["id"]]
    assert intruder.post("/v1/memory/relationships/query", json=query).json() == []
    bad = reader.post("/v1/memory/relationships/query", json={"ids": ["nope"]})
    assert bad.status_code == 422
