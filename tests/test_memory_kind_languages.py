"""A text-search language per entity kind (memory_0015): indexing, queries in each
kind's language (filtered to kinds and across them), the background re-index of one kind,
bad input and tenant isolation; both faces."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agentledger import Filter, InvalidInput, Languages, LanguageStatus, Ledger
from agentledger.memory.facade_sync import Memory


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def ids(hits: Any) -> list[uuid.UUID]:
    return [h.entity.id for h in hits]


def test_each_kind_is_found_by_a_word_of_its_own_language(mem: Memory) -> None:
    """German and Spanish kinds beside the English tenant: a stemmed word finds its entity
    filtered to the kind and across the tenant; each hit is highlighted in its language."""
    assert mem.set_language("german", kind="notiz") == "german"
    assert mem.set_language("spanish", kind="receta") == "spanish"
    haus = mem.upsert("notiz", "Das Haus am See", summary="ein altes Haus mit Garten")
    soup = mem.upsert("receta", "Gazpacho andaluz", summary="correr al mercado por tomates")
    song = mem.upsert("receta", "Una canción de cuna")
    lake = mem.upsert("note", "Two old houses by the lake")
    assert mem.language() == "english"
    assert mem.language(kind="notiz") == "german"
    assert mem.language(kind="note") == "english"
    assert mem.languages() == Languages(
        language="english", kinds={"notiz": "german", "receta": "spanish"}
    )
    german = Filter(kind="notiz")
    assert ids(mem.search_text("Häuser", filter=german)) == [haus.id]
    assert ids(mem.search_text("Häuser")) == [haus.id]  # the tenant-wide query ORs them
    assert ids(mem.search("Häuser"))[:1] == [haus.id]
    assert "<b>Haus</b>" in (mem.search_text("Häuser")[0].highlight or "")  # in German
    # Spanish equates "corriendo" with "correr" and "canciones" with "canción"; English
    # stems neither pair alike.
    assert ids(mem.search_text("corriendo", filter=Filter(kind="receta"))) == [soup.id]
    assert ids(mem.search_text("corriendo")) == [soup.id]
    assert ids(mem.search_text("canciones")) == [song.id]
    assert ids(mem.search_text("houses", filter=Filter(kind="note"))) == [lake.id]
    assert ids(mem.search_text("house")) == [lake.id]
    # Filtered to the English kind, the query is English only: no German stem.
    assert mem.search_text("Häuser", filter=Filter(kind="note")) == []
    assert mem.search_text("corriendo", filter=Filter(kind=["note", "notiz"])) == []
    # An entity that moves to another kind is indexed in that kind's language.
    moved = mem.upsert("note", "Die Gärten der Stadt", key="k1")
    assert moved.id not in ids(mem.search_text("Garten"))  # English keeps "gärten"
    assert mem.upsert("notiz", "Die Gärten der Stadt", key="k1").id == moved.id
    assert moved.id in ids(mem.search_text("Garten", filter=german))


def test_a_kinds_language_change_reindexes_that_kind_only(mem: Memory) -> None:
    notes = [mem.upsert("notiz", f"Die Häuser Nummer {i}").id for i in range(3)]
    english = [mem.upsert("note", f"The house number {i}").id for i in range(2)]
    assert mem.search_text("Haus") == []  # indexed in English: "häuser" unstemmed
    assert mem.set_language("german", kind="notiz", batch_size=2) == "german"
    status = mem.language_status(kind="notiz")
    assert status == LanguageStatus(language="german", pending=3, batches=2, kind="notiz")
    assert mem.language_status().pending == 3  # the tenant's count: each against its own
    assert mem.language_status(kind="note").pending == 0
    fresh = mem.upsert("notiz", "Die Häuser am Fluss")  # indexed in German at once
    assert ids(mem.search_text("Haus")) == [fresh.id]  # the others wait for their batch
    assert mem.reindex() == 3  # the kind's entities, none of the others
    assert mem.language_status(kind="notiz") == LanguageStatus(
        language="german", pending=0, batches=0, kind="notiz"
    )
    assert set(ids(mem.search_text("Haus", limit=20))) == {*notes, fresh.id}
    assert set(ids(mem.search_text("houses", limit=20))) == set(english)
    # Cleared, the kind follows the tenant's language again, re-indexed the same way.
    assert mem.set_language(None, kind="notiz") == "english"
    assert mem.languages() == Languages(language="english", kinds={})
    assert mem.language_status(kind="notiz").pending == 4
    assert mem.reindex() == 4
    assert mem.language_status() == LanguageStatus(language="english", pending=0, batches=0)
    assert mem.search_text("Haus") == []


def test_the_tenants_language_leaves_a_kind_with_its_own(mem: Memory) -> None:
    mem.set_language("german", kind="notiz", wait=True)
    haus = mem.upsert("notiz", "Das Haus")
    song = mem.upsert("fact", "Una canción")
    assert mem.set_language("spanish", wait=True) == "spanish"
    assert mem.language(kind="notiz") == "german"
    assert mem.language(kind="fact") == "spanish"
    assert ids(mem.search_text("Häuser")) == [haus.id]
    assert ids(mem.search_text("canciones")) == [song.id]
    assert mem.language_status() == LanguageStatus(language="spanish", pending=0, batches=0)


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (lambda m: m.set_language("klingon", kind="notiz"), "language", "german"),
        (lambda m: m.set_language(None), "language", "cannot be cleared"),
        (lambda m: m.set_language("german", kind=" "), "kind", "must not be empty"),
        (lambda m: m.set_language("german", kind="k" * 101), "kind", "limit is 100"),
        (lambda m: m.language_status(kind=""), "kind", "must not be empty"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    mem: Memory, call: Any, field: str, message: str
) -> None:
    mem.upsert("notiz", "Das Haus")
    with pytest.raises(InvalidInput, match=message) as caught:
        call(mem)
    assert caught.value.field == field
    assert mem.languages() == Languages(language="english", kinds={})
    assert mem.language_status() == LanguageStatus(language="english", pending=0, batches=0)


def test_a_kinds_language_is_its_tenants_own(ledger: Ledger, mem: Memory) -> None:
    other = ledger.tenant(ledger.tenants.create(f"t-{uuid.uuid4().hex[:12]}").id).memory
    mem.set_language("german", kind="notiz")
    mine = mem.upsert("notiz", "Das Haus")
    theirs = other.upsert("notiz", "Das Haus")
    assert other.language(kind="notiz") == "english"
    assert other.languages() == Languages(language="english", kinds={})
    assert other.search_text("Häuser") == []  # their notes are English
    assert ids(other.search_text("Haus")) == [theirs.id]
    assert ids(mem.search_text("Häuser")) == [mine.id]
    assert other.language_status() == LanguageStatus(language="english", pending=0, batches=0)
