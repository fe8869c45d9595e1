"""Fuzzy names through the word dictionary (memory_0004, memory_0006): misspelt words find
their close words, renames keep the dictionary current, odd characters stay data, scopes
hold, common words are sampled."""

from __future__ import annotations

import re
import uuid

import psycopg
from bench.plans import traced_plans

from agentledger import Filter, Ledger, NewEntity
from agentledger.memory import filters, ops


def words(database_url: str, tenant: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT term FROM agentledger.memory_name_terms WHERE tenant_id = %s", [tenant]
        ).fetchall()
    return {r[0] for r in rows}


def test_names_feed_the_dictionary_and_renames_are_found(
    ledger: Ledger, tenant_id: str, database_url: str
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


def test_quotes_and_backslashes_in_names_are_data(ledger: Ledger, tenant_id: str) -> None:
    mem = ledger.tenant(tenant_id).memory
    odd = mem.upsert("contact", "Siobhan O'Briain \\ Ltd | & ! (x)", by_name=True)
    hits = mem.find_by_name("Siobhan O'Brian \\ | & !")
    assert [h.entity.id for h in hits] == [odd.id]
    assert mem.find_by_name("' | & ! \\") == []


def test_one_word_matching_fills_the_limit_and_ranks_by_similarity(
    ledger: Ledger, tenant_id: str
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


def test_user_scope_and_tenant_scope_hold(ledger: Ledger, tenant_id: str) -> None:
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


def test_the_any_word_pass_reads_each_close_word_from_a_bounded_sample(
    ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    """memory_0006: when no name holds a close word of every query word, the any-word pass
    reads the close words one by one (each under GIN's sample bound, which the function
    keeps to itself), and the rarer word's names are ranked beside the common word's."""
    mem = ledger.tenant(tenant_id).memory
    mem.upsert_many(NewEntity(kind="contact", name=f"Zebulon Kx{i:04d}") for i in range(300))
    rare = mem.upsert_many(
        NewEntity(kind="contact", name=f"Quillfeather {n}") for n in ("Abbot", "Birch", "Cobb")
    )
    query = "Zebulon Quilfeather"  # no name holds a close word of both
    hits = mem.find_by_name(query, limit=10, threshold=0.1)
    assert len(hits) == 10
    assert set(rare.ids) <= {h.entity.id for h in hits}
    assert all("Zebulon" in h.entity.name or "Quillfeather" in h.entity.name for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant_id])
        shown = traced_plans(
            conn,
            ops.Q.find_by_name.sql,
            {"name": query, "threshold": 0.1, "cap": 16, "limit": 10} | filters.params(None),
        )
        after = conn.execute("SHOW gin_fuzzy_search_limit").fetchone()
    plans = shown.split("duration: ")
    word = re.compile(rf"@@ '''{re.escape(tenant_id)} (\w+)'''::tsquery")
    each = {m.group(1): p for p in plans for m in [word.search(p)] if m}
    assert {"zebulon", "quillfeather"} <= set(each), shown
    assert all("LIMIT least(p_cap" in p for p in each.values()), each
    assert any("zebulon'' & " in p or "quillfeather'' & " in p for p in plans), shown
    assert after == ("0",)  # the sample bound ends with the function
