"""The behaviours LangGraph's own store tests check, run on AgentLedgerStore (both faces) and,
as the control, on LangGraph's InMemoryStore: batches, put/get/delete, search with filters
and pages, namespace listing, namespace rules, and natural-language search."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

from agentledger import AsyncLedger, HashingEmbedder, InvalidInput, Ledger
from agentledger.integrations.langgraph import AgentLedgerStore, AsyncAgentLedgerStore

EMBEDDER = HashingEmbedder()
STORES = ["in-memory", "agentledger", "agentledger-async"]
MakeStore = Callable[..., BaseStore]


class OnLoop(BaseStore):
    """An async store driven from synchronous test code: each batch runs ``abatch`` on the
    test run's event loop."""

    def __init__(self, inner: BaseStore, runner: asyncio.Runner) -> None:
        self._inner = inner
        self._runner = runner

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._runner.run(self._inner.abatch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self._inner.abatch(ops)


def fresh_tenant(ledger: Ledger) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tid, "LangGraph store")
    return tid


def _maker(
    kind: str, request: pytest.FixtureRequest, sync_ledger: Ledger, aio: asyncio.Runner
) -> MakeStore:
    """Makes an empty store of ``kind`` (one of STORES); ``indexed`` embeds ``fields`` of each
    put (HashingEmbedder on every store, so their rankings agree)."""

    def make(*, indexed: bool = False, fields: Sequence[str] = ("$",)) -> BaseStore:
        if kind == "in-memory":
            index = {"dims": 384, "embed": EMBEDDER.embed, "fields": list(fields)}
            return InMemoryStore(index=index) if indexed else InMemoryStore()  # type: ignore[arg-type]
        tenant = fresh_tenant(sync_ledger)
        embedder = EMBEDDER if indexed else None
        if kind == "agentledger":
            return AgentLedgerStore(sync_ledger.tenant(tenant), embedder=embedder, fields=fields)
        async_ledger: AsyncLedger = request.getfixturevalue("async_ledger")
        inner = AsyncAgentLedgerStore(async_ledger.tenant(tenant), embedder=embedder, fields=fields)
        return OnLoop(inner, aio)

    return make


@pytest.fixture(params=STORES)
def make_store(
    request: pytest.FixtureRequest, sync_ledger: Ledger, aio: asyncio.Runner
) -> MakeStore:
    """Makes an empty store, ours (both faces) or LangGraph's InMemoryStore."""
    return _maker(request.param, request, sync_ledger, aio)


@pytest.fixture(params=STORES[1:])
def make_ours(
    request: pytest.FixtureRequest, sync_ledger: Ledger, aio: asyncio.Runner
) -> MakeStore:
    """Makes an empty AgentLedgerStore, on either face."""
    return _maker(request.param, request, sync_ledger, aio)


@pytest.fixture
def store(make_store: MakeStore) -> BaseStore:
    return make_store()


def keys(items: Iterable[Item]) -> list[str]:
    return [i.key for i in items]


def test_a_batch_answers_each_operation_in_its_place(store: BaseStore) -> None:
    store.put(("test", "foo"), "key1", {"data": "value1"})
    store.put(("test", "bar"), "key2", {"data": "value2"})
    results = store.batch(
        [
            GetOp(("test", "foo"), "key1"),
            PutOp(("test",), "key3", {"data": "value3"}),
            SearchOp(("test",), filter={"data": "value1"}),
            ListNamespacesOp(limit=10),
            GetOp(("test",), "key3"),  # reads come before the batch's writes
            GetOp(("test",), "missing"),
        ]
    )
    first = results[0]
    assert isinstance(first, Item) and first.value == {"data": "value1"}
    assert results[1] is None
    assert isinstance(results[2], list) and keys(results[2]) == ["key1"]  # type: ignore[arg-type]
    assert results[3] == [("test", "bar"), ("test", "foo")]
    assert results[4] is None and results[5] is None
    third = store.get(("test",), "key3")
    assert third is not None and third.value == {"data": "value3"}


def test_puts_replace_values_whole_and_deletes_remove_them(store: BaseStore) -> None:
    ns = ("test", "documents")
    store.put(ns, "doc1", {"title": "Test", "content": "Hello", "note": None})
    item = store.get(ns, "doc1")
    assert item is not None and item.namespace == ns and item.key == "doc1"
    assert item.value == {"title": "Test", "content": "Hello", "note": None}
    assert isinstance(item.created_at, datetime) and item.created_at <= item.updated_at
    store.put(ns, "doc1", {"title": "Updated"})
    updated = store.get(ns, "doc1")
    assert updated is not None and updated.value == {"title": "Updated"}
    assert updated.updated_at > item.updated_at
    assert store.get(("test", "other"), "doc1") is None
    store.delete(ns, "doc1")
    store.delete(ns, "doc1")  # deleting what is gone is no error
    assert store.get(ns, "doc1") is None


def test_the_last_write_of_an_item_in_a_batch_wins(store: BaseStore) -> None:
    store.put(("test",), "gone", {"v": 0})
    assert (
        store.batch(
            [
                PutOp(("test",), "key1", {"v": 1}),
                PutOp(("test",), "key1", {"v": 2}),
                PutOp(("test",), "key2", {"v": 1}),
                PutOp(("test",), "key2", None),
                PutOp(("test",), "gone", None),
            ]
        )
        == [None] * 5
    )
    first = store.get(("test",), "key1")
    assert first is not None and first.value == {"v": 2}
    assert store.get(("test",), "key2") is None and store.get(("test",), "gone") is None


def test_search_narrows_by_namespace_prefix_and_filter_and_pages(store: BaseStore) -> None:
    data: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
        (("test", "docs"), "doc1", {"title": "First", "author": "Alice", "tags": ["a", "b"]}),
        (("test", "docs"), "doc2", {"title": "Second", "author": "Bob", "tags": ["b"]}),
        (("test", "docs", "sub"), "doc3", {"title": "Third", "author": "Alice"}),
        (("test", "images"), "img1", {"title": "Image", "author": "Alice"}),
        (("test-other",), "x", {"title": "Elsewhere", "author": "Alice"}),
    ]
    for ns, key, value in data:
        store.put(ns, key, value)
    assert len(store.search(("test",))) == 4
    assert sorted(keys(store.search(("test", "docs")))) == ["doc1", "doc2", "doc3"]
    assert keys(store.search(("test", "docs", "sub"))) == ["doc3"]
    assert len(store.search(())) == 5
    assert sorted(keys(store.search(("test",), filter={"author": "Alice"}))) == [
        "doc1",
        "doc3",
        "img1",
    ]
    both = store.search(("test",), filter={"author": "Alice", "title": "Image"})
    assert keys(both) == ["img1"] and both[0].score is None
    assert keys(store.search(("test",), filter={"tags": ["a", "b"]})) == ["doc1"]
    assert store.search(("nothing",)) == []
    page1 = store.search(("test",), limit=2)
    page2 = store.search(("test",), limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2
    assert set(keys(page1)).isdisjoint(keys(page2))
    assert len(store.search(("test",), offset=3)) == 1


def test_filters_compare_numbers_as_numbers_and_strings_as_strings(store: BaseStore) -> None:
    ns = ("scores",)
    for key, score in [("a", 2), ("b", 9), ("c", 10), ("d", 11), ("e", 9.5)]:
        store.put(ns, key, {"score": score, "name": f"n{key}", "done": key in "ab"})

    def found(where: dict[str, Any]) -> list[str]:
        return sorted(keys(store.search(ns, filter=where)))

    assert found({"score": {"$gt": 9}}) == ["c", "d", "e"]
    assert found({"score": {"$gte": 10}}) == ["c", "d"]
    assert found({"score": {"$lt": 10}}) == ["a", "b", "e"]
    assert found({"score": {"$lte": 9, "$gt": 2}}) == ["b"]
    assert found({"score": {"$eq": 10}}) == ["c"] == found({"score": 10})
    assert found({"score": {"$ne": 10}}) == ["a", "b", "d", "e"]
    assert found({"score": 9.5}) == ["e"]
    assert found({"done": True}) == ["a", "b"]


def test_listing_namespaces_by_prefix_suffix_wildcard_and_depth(store: BaseStore) -> None:
    namespaces = [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
        ("users", "123"),
        ("users", "456", "settings"),
        ("admin", "users", "789"),
    ]
    for i, ns in enumerate(namespaces):
        store.put(ns, f"id_{i}", {"data": i})
    store.put(("a", "b", "c"), "twice", {"data": "same namespace"})
    assert store.list_namespaces() == sorted(namespaces)
    assert store.list_namespaces(prefix=("a", "b")) == sorted(namespaces[:4])
    assert store.list_namespaces(suffix=("f",)) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("a",), suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(suffix=("*", "f")) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == []
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(max_depth=1) == [("a",), ("admin",), ("b",), ("users",)]
    assert store.list_namespaces(prefix=("a", "b"), limit=2) == [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
    ]
    assert store.list_namespaces(prefix=("a", "b"), offset=2) == [
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(prefix=("users", "123")) == [("users", "123")]
    assert store.list_namespaces(prefix=("nonexistent",)) == []
    results = store.batch(
        [
            ListNamespacesOp(match_conditions=(MatchCondition("suffix", ("c",)),)),
            ListNamespacesOp(max_depth=2, limit=3),
        ]
    )
    assert results == [[("a", "b", "c")], [("a", "b"), ("a", "c"), ("admin", "users")]]


def test_listing_namespaces_pages_in_order(make_store: MakeStore) -> None:
    store = make_store()
    assert store.list_namespaces() == []
    for i in range(20):
        store.put(("namespace", f"sub_{i:02d}"), f"id_{i}", {"i": i})
    for offset in (0, 5, 15):
        page = store.list_namespaces(prefix=("namespace",), limit=5, offset=offset)
        assert page == [("namespace", f"sub_{i:02d}") for i in range(offset, offset + 5)]


def test_namespaces_follow_langgraph_rules(store: BaseStore) -> None:
    doc = {"foo": "bar"}
    for bad in [(), ("the", "thing.about"), ("some", "fun", ""), ("langgraph", "foo")]:
        with pytest.raises(InvalidNamespaceError):
            store.put(bad, "foo", doc)
    # "langgraph" is reserved at the root, not below it, and stores take it through batch.
    for ns in [("foo", "langgraph", "foo"), ("langgraph", "foo")]:
        store.batch([PutOp(ns, "bar", doc)])
        got = store.get(ns, "bar")
        assert got is not None and got.value == doc
        assert store.search(ns)[0].value == doc
        store.delete(ns, "bar")
        assert store.get(ns, "bar") is None


@pytest.mark.pgvector
def test_a_query_ranks_the_indexed_text(make_store: MakeStore) -> None:
    store = make_store(indexed=True)
    for key, text in [
        ("doc1", "zany zebra xerxes"),
        ("doc2", "something about dogs"),
        ("doc3", "text about birds"),
    ]:
        store.put(("test",), key, {"text": text})
    first = store.search(("test",), query="zany xerxes")
    assert first[0].key == "doc1" and first[0].score is not None
    score = first[0].score
    store.put(("test",), "doc1", {"text": "new text about dogs"})
    after = {r.key: r.score for r in store.search(("test",), query="zany xerxes")}
    assert after["doc1"] is not None and after["doc1"] < score
    about_dogs = store.search(("test",), query="new text about dogs")
    assert about_dogs[0].key == "doc1"
    # An item put with index=False is never a match for a query, only for a listing.
    store.put(("test",), "doc4", {"text": "new text about dogs"}, index=False)
    assert "doc4" not in keys(store.search(("test",), query="new text about dogs", limit=3))
    listed = store.search(("test",), limit=10)
    assert "doc4" in keys(listed) and all(r.score is None for r in listed)
    # An empty query is no query.
    assert len(store.search(("test",), query="")) == 4


@pytest.mark.pgvector
def test_a_query_with_filters_and_pages(make_store: MakeStore) -> None:
    store = make_store(indexed=True)
    docs = [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]
    for key, value in docs:
        store.put(("test",), key, value)
    red_apple = store.search(("test",), query="apple", filter={"color": "red"})
    assert keys(red_apple) == ["doc1", "doc2"]
    assert keys(store.search(("test",), query="car", filter={"color": "red"})) == ["doc2", "doc1"]
    above = store.search(("test",), query="blue", filter={"score": {"$gt": 3.2}})
    assert len(above) == 3 and above[0].key == "doc4"
    both = store.search(("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"})
    assert keys(both) == ["doc3"]
    for i in range(5):
        store.put(("pages",), f"doc{i}", {"text": f"test document number {i}"})
    page1 = store.search(("pages",), query="test", limit=2)
    page2 = store.search(("pages",), query="test", limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2 and set(keys(page1)).isdisjoint(keys(page2))
    assert len(store.search(("pages",), query="test", limit=10)) == 5
    assert len(store.search(("pages",), query="test " * 100)) == 5
    assert len(store.search(("pages",), query="test!@#$%^&*()")) == 5


@pytest.mark.pgvector
def test_fields_choose_what_is_embedded(make_store: MakeStore) -> None:
    store = make_store(indexed=True, fields=["title", "tags[*]"])
    store.put(("t",), "a", {"title": "quantum gravity", "body": "pasta recipes"})
    store.put(("t",), "b", {"title": "pasta recipes", "body": "quantum gravity"})
    store.put(("t",), "c", {"title": "gardening", "tags": ["tomatoes", "basil"]})
    assert store.search(("t",), query="quantum gravity")[0].key == "a"
    assert store.search(("t",), query="pasta recipes")[0].key == "b"
    assert store.search(("t",), query="basil")[0].key == "c"
    # A put's own index overrides the store's fields.
    store.put(("t",), "d", {"title": "nothing", "body": "volcanoes erupting"}, index=["body"])
    assert store.search(("t",), query="volcanoes erupting")[0].key == "d"


@pytest.mark.pgvector
def test_text_in_any_script_is_found(make_store: MakeStore) -> None:
    store = make_store(indexed=True)
    texts = ["这是中文", "これは日本語です", "이건 한국어야", "Это русский", "यह रूसी है"]
    for i, text in enumerate(texts):
        store.put(("user_123", "memories"), str(i), {"text": text})
    for i, text in enumerate(texts):
        assert store.search(("user_123", "memories"), query=text)[0].key == str(i)


# -- agentledger only -------------------------------------------------------------------------


@pytest.mark.pgvector
def test_a_value_that_is_not_json_is_refused_naming_where_with_or_without_an_embedder(
    make_ours: MakeStore,
) -> None:
    """As memory refuses it, before anything is embedded or written (LangGraph's index text
    would otherwise fail on it with a bare TypeError)."""
    when = datetime(2020, 1, 1, tzinfo=UTC)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"when": when}, "attrs.when"),
        ({"tags": {"a"}}, "attrs.tags"),
        ({"raw": b"x"}, "attrs.raw"),
        ({"deep": [{"at": when}]}, "attrs.deep[0].at"),
    ]
    for indexed in (False, True):
        store = make_ours(indexed=indexed)
        for value, field in bad:
            with pytest.raises(InvalidInput) as raised:
                store.batch([PutOp(("t",), "ok", {"v": 1}), PutOp(("t",), "bad", value)])
            assert raised.value.field == field, (indexed, field)
            assert "not a JSON type" in str(raised.value)
        with pytest.raises(InvalidInput) as raised:
            store.put(("t",), "one", {"when": when}, index=["when"])
        assert raised.value.field == "attrs.when"
        assert store.search(("t",)) == []


@pytest.mark.pgvector
def test_field_paths_given_as_one_string_are_refused(make_ours: MakeStore) -> None:
    # A string is not a list of its characters: "text" would embed the paths t, e, x, t.
    with pytest.raises(InvalidInput) as made:
        make_ours(indexed=True, fields="text")
    assert made.value.field == "fields"
    store = make_ours(indexed=True)
    with pytest.raises(InvalidInput) as put:
        store.put(("t",), "k", {"text": "hello"}, index="text")  # type: ignore[arg-type]
    assert put.value.field == "index"
    assert store.search(("t",)) == []
    store.put(("t",), "k", {"text": "hello"}, index=["text"])
    assert [i.key for i in store.search(("t",), query="hello")] == ["k"]
