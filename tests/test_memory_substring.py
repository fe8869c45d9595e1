"""Substring search (memory_0008): literal, case-insensitive, scoped, trigram-indexed."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from bench.plans import traced_plans

from agentledger import Filter, InvalidInput, Ledger, NewEntity
from agentledger.memory import filters, search
from agentledger.memory.facade_sync import Memory
from agentledger.memory.records import SearchHit


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def names(hits: list[SearchHit]) -> list[str]:
    return [h.entity.name for h in hits]


def test_a_substring_of_a_name_or_summary_is_found(mem: Memory) -> None:
    mem.upsert("account", "Acme Corp")
    mem.upsert("account", "Acme Corporation Holdings")
    mem.upsert("note", "renewal", summary="call ACME about the renewal")
    mem.upsert("account", "Globex")
    hits = mem.find_by_substring("cme")
    assert names(hits) == ["Acme Corp", "Acme Corporation Holdings", "renewal"]
    assert [h.score for h in hits] == [1.0, 1.0, 0.5]
    assert names(mem.find_by_substring("CME CORP")) == ["Acme Corp", "Acme Corporation Holdings"]
    assert names(mem.find_by_substring("cme", filter=Filter(kind="note"))) == ["renewal"]
    assert names(mem.find_by_substring("cme", limit=1)) == ["Acme Corp"]
    assert mem.find_by_substring("xyz") == []


def test_wildcards_in_the_text_match_themselves(mem: Memory) -> None:
    for name in ("50% off deal", "50 or more off", "a_b thing", "axb thing", r"C:\dir one"):
        mem.upsert("fact", name)
    assert names(mem.find_by_substring("50%")) == ["50% off deal"]
    assert names(mem.find_by_substring("a_b")) == ["a_b thing"]
    assert names(mem.find_by_substring(r":\di")) == [r"C:\dir one"]
    assert search.like_escape(r"5%_\x") == r"5\%\_\\x"


def test_substring_search_respects_the_user_scope(mem: Memory) -> None:
    mem.upsert("account", "Acme public")
    mem.upsert("account", "Acme of bob", user="bob")
    mem.upsert("account", "Acme carol shares", user="carol", shared=True)
    alice = mem.find_by_substring("acme", filter=Filter(user="alice"))
    assert names(alice) == ["Acme public", "Acme carol shares"]
    assert len(mem.find_by_substring("acme", filter=Filter(user="bob"))) == 3


def test_a_too_short_text_names_the_field(mem: Memory) -> None:
    for bad in ("ab", "", 12):
        with pytest.raises(InvalidInput) as caught:
            mem.find_by_substring(bad)  # type: ignore[arg-type]
        assert caught.value.field == "text"


def test_substring_search_reads_the_trigram_indexes(
    sync_ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    mem = sync_ledger.tenant(tenant_id).memory
    mem.upsert_many(
        NewEntity(kind="fact", name=f"person {i}", summary=f"note {i} on the roadmap")
        for i in range(3000)
    )
    mem.upsert("account", "Acme Corp")
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("VACUUM ANALYZE agentledger.memory_entities")
    args = {**filters.params(Filter(user="u1")), "limit": 10, "pattern": "%cme%"}
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
        shown = traced_plans(conn, search.Q.find_by_substring.sql, args)
    assert "memory_entities_name_gin_trgm_idx" in shown, shown
    assert "memory_entities_summary_gin_trgm_idx" in shown, shown
    assert "Seq Scan" not in shown, shown
    assert names(mem.find_by_substring("cme")) == ["Acme Corp"]


def test_substring_mode_over_http(
    writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    tag = uuid.uuid4().hex[:8]
    writer.post("/v1/memory/entities", json={"kind": "account", "name": f"Acme {tag}"})
    query = {"query": tag[1:], "mode": "substring"}
    got = reader.post("/v1/memory/search", json=query)
    assert got.status_code == 200, got.text
    assert [h["entity"]["name"] for h in got.json()] == [f"Acme {tag}"]
    assert intruder.post("/v1/memory/search", json=query).json() == []
    short = reader.post("/v1/memory/search", json={"query": "ab", "mode": "substring"})
    assert short.status_code in (400, 422), short.text
