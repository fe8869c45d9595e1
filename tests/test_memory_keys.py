"""Memory by natural key, as a key-value store needs it: replacing upserts, deletes by key,
the tenant's own scope, and the listing of sources."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentledger import EMBEDDING_DIMENSIONS, Filter, InvalidInput, Ledger, NewEntity
from agentledger.memory.facade_sync import Memory
from agentledger.memory.records import Entity


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def vector(seed: int) -> list[float]:
    return [1.0 if i == seed else 0.01 for i in range(EMBEDDING_DIMENSIONS)]


def test_a_replacing_upsert_makes_attrs_and_tags_exactly_the_given_ones(mem: Memory) -> None:
    mem.upsert("note", "n", key="k", attrs={"a": 1, "b": {"c": 2}}, tags=["x", "y"])
    replaced = mem.upsert("note", "n", key="k", attrs={"b": None}, tags=["z"], merge="replace")
    assert replaced.attrs == {"b": None} and replaced.tags == ["z"]
    stored = mem.get_by_key("k")
    assert stored is not None and stored.attrs == {"b": None} and stored.tags == ["z"]
    # The other modes still merge: a None never overwrites, tags are unioned.
    merged = mem.upsert("note", "n", key="k", attrs={"a": 2, "b": None}, tags=["w"])
    assert merged.attrs == {"a": 2, "b": None} and merged.tags == ["w", "z"]
    assert merged.update_count == 2


def test_a_replacing_batch_keeps_the_last_input_of_each_key(mem: Memory) -> None:
    result = mem.upsert_many(
        [
            NewEntity(kind="note", name="n", key="k", attrs={"a": 1}, tags=["x"]),
            NewEntity(kind="note", name="n", key="k", attrs={"b": None}, tags=["y"]),
            NewEntity(kind="note", name="m", key="j", attrs={"c": 3}),
        ],
        merge="replace",
    )
    assert result.inserted == 2 and result.merged == 1 and result.ids[0] == result.ids[1]
    first = mem.get_by_key("k")
    assert first is not None and first.attrs == {"b": None} and first.tags == ["y"]
    with pytest.raises(InvalidInput) as bad:
        mem.upsert_many([NewEntity(kind="note", name="n", key="k")], merge="overwrite")
    assert bad.value.field == "merge"


def test_delete_by_key_finds_the_entity_as_get_by_key_does(mem: Memory) -> None:
    mem.upsert("note", "n", key="k", source="crm", user="alice")
    mem.upsert("note", "n", key="k", source="crm")
    mem.upsert("topic", "Heron Project", by_name=True)
    assert not mem.delete_by_key("k", source="other")
    assert mem.delete_by_key("k", source="crm", user="alice")
    assert mem.get_by_key("k", source="crm", user="alice") is None
    assert mem.get_by_key("k", source="crm") is not None  # the tenant's own is another key
    assert not mem.delete_by_key("k", source="crm", user="alice")
    assert mem.delete_by_key(kind="topic", name="heron  project")
    with pytest.raises(InvalidInput) as bad:
        mem.delete_by_key(source="crm")
    assert bad.value.field == "key"


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("José Núñez", "Jose\u0301 Nu\u0301n\u0303ez"),  # composed, and combining accents
        ("ＡＢＣ Corp", "abc corp"),  # full-width letters
        ("Straße", "STRASSE"),
        ("ﬁnance  team", "Finance Team"),  # a ligature, and white space
    ],
)
def test_a_name_key_is_the_same_in_every_form_unicode_counts_as_one(
    mem: Memory, first: str, again: str
) -> None:
    made = mem.upsert("person", first, by_name=True)
    merged = mem.upsert("person", again, by_name=True)
    assert merged.id == made.id and merged.update_count == 1 and merged.name == again
    found = mem.get_by_key(kind="person", name=first)
    assert found is not None and found.id == made.id
    assert mem.delete_by_key(kind="person", name=again)


def test_names_unicode_tells_apart_stay_apart(mem: Memory) -> None:
    # Turkish dotted capital I folds to i with a dot above, not to the plain i.
    dotted = mem.upsert("city", "İstanbul", by_name=True)
    assert mem.upsert("city", "istanbul", by_name=True).id != dotted.id
    assert (
        mem.upsert("city", "Josè", by_name=True).id != mem.upsert("city", "José", by_name=True).id
    )


@pytest.mark.pgvector
def test_the_tenant_scope_reads_only_the_tenant_own_entities(mem: Memory) -> None:
    mine = mem.upsert("account", "Acme Alpha", embedding=vector(1))
    mem.upsert("account", "Acme Beta", user="bob", shared=True, embedding=vector(2))
    theirs = mem.upsert("account", "Acme Gamma", user="bob", embedding=vector(3))
    tenant = Filter(scope="tenant")
    reads: dict[str, Callable[[Filter], list[Entity]]] = {
        "list": lambda f: mem.list(f),
        "text": lambda f: [h.entity for h in mem.search_text("acme", filter=f)],
        "fuzzy": lambda f: [h.entity for h in mem.find_by_name("Acme", filter=f)],
        "substring": lambda f: [h.entity for h in mem.find_by_substring("cme", filter=f)],
        "hybrid": lambda f: [h.entity for h in mem.search("Acme", filter=f)],
        "vector": lambda f: [h.entity for h in mem.search_vector(vector(3), filter=f)],
    }
    for name, read in reads.items():
        assert [e.id for e in read(tenant)] == [mine.id], name
    assert mem.get(mine.id, scope="tenant").id == mine.id
    assert not mem.delete(theirs.id, scope="tenant")
    with pytest.raises(InvalidInput) as bad:
        mem.list(Filter(user="bob", scope="tenant"))
    assert bad.value.field == "scope"


def test_sources_list_where_the_visible_entities_came_from(mem: Memory) -> None:
    for source in ["crm.eu", "crm.us", "crm-b", "crm", "mail", "crm.eu"]:
        mem.upsert("account", f"A {source}", key=source, source=source)
    mem.upsert("contact", "C", key="c", source="crm.asia")
    mem.upsert("account", "B", key="b", source="crm.bob", user="bob")
    # Code point order: "-" (0x2d) sorts before "." (0x2e).
    assert mem.sources() == ["crm", "crm-b", "crm.asia", "crm.bob", "crm.eu", "crm.us", "mail"]
    assert mem.sources("crm.", kind="account") == ["crm.bob", "crm.eu", "crm.us"]
    assert mem.sources("crm.", scope="tenant") == ["crm.asia", "crm.eu", "crm.us"]
    assert mem.sources("crm.", user="alice") == ["crm.asia", "crm.eu", "crm.us"]
    assert mem.sources("crm.", user="bob", scope="own") == ["crm.bob"]
    page = mem.sources("crm", limit=2)
    assert page == ["crm", "crm-b"]
    assert mem.sources("crm", after=page[-1], limit=2) == ["crm.asia", "crm.bob"]
    assert mem.sources("%") == []  # a prefix is taken literally
