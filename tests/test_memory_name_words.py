"""Fuzzy names through the word dictionary (memory_0004): misspelt words find their close
words, renames keep the dictionary current, odd characters stay data, scopes hold."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from agentledger import Filter, NewEntity


def words(database_url: str, tenant: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT term FROM agentledger.memory_name_terms WHERE tenant_id = %s", [tenant]
        ).fetchall()
    return {r[0] for r in rows}


def test_names_feed_the_dictionary_and_renames_are_found(
    ledger: Any, tenant_id: str, database_url: str
) -> None:
    mem = ledger.tenant(tenant_id).memory
    mem.upsert_many([NewEntity(kind="contact", name="Margaret Thatcherly")])
    first = mem.upsert("contact", "Quentin Blakewood", key="q1", source="crm")
    assert {"margaret", "thatcherly", "quentin", "blakewood"} <= words(database_url, tenant_id)
    assert [h.entity.id for h in mem.find_by_name("Quentn Blakewod")] == [first.id]
    # A merge that renames the entity adds the new words; the new name is found.
    mem.upsert("contact", "Quentin Ravensworth", key="q1", source="crm")
    assert "ravensworth" in words(database_url, tenant_id)
    hits = mem.find_by_name("Quentin Ravenswrth")
    assert [h.entity.id for h in hits] == [first.id]
    assert hits[0].fuzzy_score is not None and hits[0].fuzzy_score >= 0.3


def test_quotes_and_backslashes_in_names_are_data(ledger: Any, tenant_id: str) -> None:
    mem = ledger.tenant(tenant_id).memory
    odd = mem.upsert("contact", "Siobhan O'Briain \\ Ltd | & ! (x)", by_name=True)
    hits = mem.find_by_name("Siobhan O'Brian \\ | & !")
    assert [h.entity.id for h in hits] == [odd.id]
    assert mem.find_by_name("' | & ! \\") == []


def test_one_word_matching_fills_the_limit_and_ranks_by_similarity(
    ledger: Any, tenant_id: str
) -> None:
    mem = ledger.tenant(tenant_id).memory
    mem.upsert_many(
        [NewEntity(kind="contact", name=f"Willoughby {n}") for n in ("Ash", "Birch", "Cedar")]
        + [NewEntity(kind="contact", name=f"Person {i} Willoughby Longer Name") for i in range(30)]
    )
    hits = mem.find_by_name("Wiloughby", limit=10, threshold=0.1)
    assert len(hits) == 10
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert {h.entity.name for h in hits[:3]} == {
        "Willoughby Ash",
        "Willoughby Birch",
        "Willoughby Cedar",
    }


def test_user_scope_and_tenant_scope_hold(ledger: Any, tenant_id: str) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other, "Other")
    mem = ledger.tenant(tenant_id).memory
    alice = mem.upsert("contact", "Evangeline Marchbanks", user="alice", by_name=True)
    bob = mem.upsert("contact", "Evangeline Marchbanks", user="bob", by_name=True)
    team = mem.upsert("contact", "Evangeline Marchbanks", user="carol", shared=True, by_name=True)
    public = mem.upsert("contact", "Evangeline Marchbanks", by_name=True)
    ledger.tenant(other).memory.upsert("contact", "Evangeline Marchbanks", by_name=True)
    query = "Evangelin Marchbank"
    seen = {h.entity.id for h in mem.find_by_name(query, filter=Filter(user="alice"))}
    assert seen == {alice.id, team.id, public.id}
    everyone = {h.entity.id for h in mem.find_by_name(query)}
    assert everyone == {alice.id, bob.id, team.id, public.id}
    hybrid = {h.entity.id for h in mem.search(query, filter=Filter(user="bob"))}
    assert hybrid == {bob.id, team.id, public.id}
