"""Vocabularies (memory_0010): a tenant's allowed kinds and relationship types, held by the
database for every writer, refused with the allowed list, nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from agentledger import InvalidInput, Ledger, NewEntity, Vocabulary
from agentledger.memory.facade_sync import Memory

CONTEXT_TYPES = [
    "search_result",
    "user_selection",
    "tool_output",
    "domain_entity",
    "completed_action",
    "conversation_fact",
    "temporary_state",
]
EDGE_TYPES = ["led_to", "relates_to", "depends_on", "produces", "belongs_to"]


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def test_unknown_kinds_and_types_are_refused_with_the_allowed_list(mem: Memory) -> None:
    assert mem.vocabulary() == Vocabulary(kinds=None, relationship_types=None)
    mem.upsert("anything", "free before a vocabulary")
    mem.delete(mem.list()[0].id)
    got = mem.define_vocabulary(kinds=CONTEXT_TYPES, relationship_types=EDGE_TYPES)
    assert got == Vocabulary(kinds=CONTEXT_TYPES, relationship_types=EDGE_TYPES)
    assert mem.vocabulary() == got
    a = mem.upsert("domain_entity", "Acme", key="ACC-001", source="crm")
    b = mem.upsert("conversation_fact", "likes email")
    with pytest.raises(InvalidInput) as caught:
        mem.upsert("gossip", "nope")
    assert caught.value.field == "kind"
    assert "'gossip'" in str(caught.value) and "search_result, user_selection" in str(caught.value)
    with pytest.raises(InvalidInput):  # a batch with one bad kind writes nothing
        mem.upsert_many([NewEntity(kind="tool_output", name="x"), NewEntity(kind="bad", name="y")])
    with pytest.raises(InvalidInput):  # a merge that changes the kind is checked too
        mem.upsert("bad", None, key="ACC-001", source="crm")
    with pytest.raises(InvalidInput) as edge:
        mem.relate(a.id, b.id, "likes")
    assert edge.value.field == "type" and "led_to, relates_to" in str(edge.value)
    mem.relate(a.id, b.id, "relates_to", weight=0.5)
    assert {e.name for e in mem.list()} == {"Acme", "likes email"}
    assert mem.get(a.id).kind == "domain_entity"
    # Opening a domain again lifts the restriction.
    mem.define_vocabulary(kinds=None, relationship_types=EDGE_TYPES)
    assert mem.upsert("gossip", "now allowed").kind == "gossip"


def test_a_vocabulary_leaving_out_stored_terms_is_refused(mem: Memory) -> None:
    a = mem.upsert("contact", "Ann")
    b = mem.upsert("account", "Acme")
    mem.relate(a.id, b.id, "works_at")
    with pytest.raises(InvalidInput) as caught:
        mem.define_vocabulary(kinds=["contact"])
    assert caught.value.field == "kinds" and "account" in str(caught.value)
    with pytest.raises(InvalidInput) as edge:
        mem.define_vocabulary(kinds=["contact", "account"], relationship_types=["knows"])
    assert edge.value.field == "relationship_types" and "works_at" in str(edge.value)
    assert mem.vocabulary() == Vocabulary(kinds=None, relationship_types=None)  # unchanged
    bad: Any
    for bad in ([], "contact", [""], ["x" * 101]):
        with pytest.raises(InvalidInput):
            mem.define_vocabulary(kinds=bad)


def test_the_database_holds_every_writer_and_each_tenant_to_its_own(
    ledger: Ledger, tenant_id: str, app_url: str
) -> None:
    mem = ledger.tenant(tenant_id).memory
    mem.define_vocabulary(kinds=["contact"])
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other, "Other")
    assert ledger.tenant(other).memory.upsert("gossip", "free here").kind == "gossip"
    with psycopg.connect(app_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
        with pytest.raises(psycopg.Error) as raw:
            conn.execute(
                "INSERT INTO agentledger.memory_entities (tenant_id, kind, dedup_key, name)"
                " VALUES (%s, 'gossip', 'k', 'raw')",
                [tenant_id],
            )
    assert raw.value.sqlstate == "ALII0"


def test_the_api_reads_and_sets_the_vocabulary(
    admin: httpx.Client, writer: httpx.Client, reader: httpx.Client
) -> None:
    kinds: list[Any] = [f"k-{uuid.uuid4().hex[:6]}"]
    before = reader.get("/v1/memory/vocabulary").json()
    assert writer.put("/v1/memory/vocabulary", json={"kinds": kinds}).status_code == 403
    try:
        stored = reader.get("/v1/memory/entities").json()["items"]
        kinds += sorted({e["kind"] for e in stored})
        put = admin.put("/v1/memory/vocabulary", json={"kinds": kinds})
        assert put.status_code == 200, put.text
        assert reader.get("/v1/memory/vocabulary").json()["kinds"] == kinds
        refused = writer.post("/v1/memory/entities", json={"kind": "zzz-unknown", "name": "n"})
        assert refused.status_code == 422 and kinds[0] in refused.text, refused.text
    finally:
        admin.put("/v1/memory/vocabulary", json=before)
