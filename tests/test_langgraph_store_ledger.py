"""What AgentLedgerStore adds to LangGraph's store contract: items are memory entities of one
tenant (and one user), filters compare typed values where LangGraph's PostgresStore compares
text, scoped vector search returns its whole limit, bad input is refused, and the async
store answers sync calls from other threads."""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp
from langgraph.store.postgres import PostgresStore

from agentledger import AsyncLedger, Filter, HashingEmbedder, InvalidInput, Ledger, Settings
from agentledger.integrations.langgraph import (
    DEFAULT_KIND,
    AgentLedgerStore,
    AsyncAgentLedgerStore,
)

EMBEDDER = HashingEmbedder()


def fresh_tenant(ledger: Ledger) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tid, "LangGraph store")
    return tid


@pytest.fixture
def tenant(sync_ledger: Ledger) -> str:
    return fresh_tenant(sync_ledger)


@pytest.fixture
def store(sync_ledger: Ledger, tenant: str) -> AgentLedgerStore:
    return AgentLedgerStore(sync_ledger.tenant(tenant), embedder=EMBEDDER, fields=["text"])


@pytest.fixture(scope="module")
def postgres_store(database_url: str) -> Iterator[PostgresStore]:
    """LangGraph's own PostgresStore, in its tables beside agentledger's."""
    with PostgresStore.from_conn_string(database_url) as pg:
        pg.setup()
        yield pg


@pytest.mark.pgvector
def test_items_are_memory_entities(
    sync_ledger: Ledger, tenant: str, store: AgentLedgerStore
) -> None:
    store.put(("users", "u1", "memories"), "m1", {"text": "likes tea", "n": None})
    memory = sync_ledger.tenant(tenant).memory
    entity = memory.get_by_key("m1", source="langgraph:users.u1.memories")
    assert entity is not None and entity.kind == DEFAULT_KIND and entity.user_id is None
    assert entity.attrs == {"text": "likes tea", "n": None} and entity.summary == "likes tea"
    assert entity.tags == ["langgraph:users", "langgraph:users.u1", "langgraph:users.u1.memories"]
    # So memory's own searches find them too.
    assert [h.entity.key for h in memory.search_text("tea")] == ["m1"]
    assert memory.list(Filter(kind=DEFAULT_KIND, tags=["langgraph:users.u1"]))[0].id == entity.id
    # An entity the store did not write is not one of its items.
    memory.upsert("note", "outside", key="m2", source="langgraph:users.u1.memories")
    assert [i.key for i in store.search(("users",))] == ["m1"]
    assert store.list_namespaces() == [("users", "u1", "memories")]


def test_stores_of_two_tenants_and_of_users_never_meet(sync_ledger: Ledger, tenant: str) -> None:
    other = fresh_tenant(sync_ledger)
    mine = AgentLedgerStore(sync_ledger.tenant(tenant))
    theirs = AgentLedgerStore(sync_ledger.tenant(other))
    alice = AgentLedgerStore(sync_ledger.tenant(tenant), user="alice")
    bob = AgentLedgerStore(sync_ledger.tenant(tenant), user="bob")
    for i, s in enumerate([mine, theirs, alice, bob]):
        s.put(("prefs",), "theme", {"owner": i})
    for i, s in enumerate([mine, theirs, alice, bob]):
        got = s.get(("prefs",), "theme")
        assert got is not None and got.value == {"owner": i}
        assert [x.value for x in s.search(("prefs",))] == [{"owner": i}]
        assert s.list_namespaces() == [("prefs",)]
    alice.put(("alice-only",), "k", {"v": 1})
    assert mine.list_namespaces() == bob.list_namespaces() == [("prefs",)]
    alice.delete(("prefs",), "theme")
    assert alice.get(("prefs",), "theme") is None and bob.get(("prefs",), "theme") is not None


def test_filters_compare_numbers_where_postgres_store_compares_text(
    store: AgentLedgerStore, postgres_store: PostgresStore
) -> None:
    ns = ("prices", uuid.uuid4().hex[:8])
    for s in (store, postgres_store):
        for key, price in [("a", 2), ("b", 9), ("c", 10), ("d", 100)]:
            s.put(ns, key, {"price": price})

    def over_nine(s: AgentLedgerStore | PostgresStore) -> list[str]:
        return sorted(i.key for i in s.search(ns, filter={"price": {"$gt": 9}}))

    assert over_nine(store) == ["c", "d"]
    # PostgresStore compares value->>'price' with '9' as text: "10" and "100" sort below "9".
    assert over_nine(postgres_store) == []
    # Strings still compare as strings.
    store.put(ns, "e", {"price": "cheap"})
    assert [i.key for i in store.search(ns, filter={"price": {"$gt": "a"}})] == ["e"]


def test_bad_input_is_refused_naming_the_field(store: AgentLedgerStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.batch([GetOp(("a.b",), "k")])  # a period would read as two labels
    cases: list[tuple[str, Callable[[], object]]] = [
        ("namespace", lambda: store.put(("x" * 200,), "k", {})),
        ("limit", lambda: store.search(("a",), limit=900, offset=200)),
        ("filter", lambda: store.search(("a",), filter={"n": {"$in": [1, 2]}})),
        ("filter", lambda: store.search(("a",), filter={"n": {"$gt": [1]}})),
        ("key", lambda: store.put(("a",), "", {})),
        ("attrs", lambda: store.put(("a",), "k", {"big": "x" * 300_000})),
    ]
    for field, call in cases:
        with pytest.raises(InvalidInput) as bad:
            call()
        assert bad.value.field == field
    assert store.search(("a",)) == [] and store.get(("a",), "k") is None
    # Nothing of a batch is written when one of its values is refused.
    with pytest.raises(InvalidInput):
        store.batch([PutOp(("a",), "ok", {"v": 1}), PutOp(("a",), "bad", {"v": math.inf})])
    assert store.get(("a",), "ok") is None


@pytest.mark.slow
@pytest.mark.pgvector
def test_scoped_vector_search_returns_its_limit_close_to_exact(
    sync_ledger: Ledger, tenant: str
) -> None:
    """3,000 items in 30 namespaces; a query in one namespace, filtered to half of it (50
    items), returns its full limit of 10 and finds the exact top 10 (recall@10)."""
    store = AgentLedgerStore(sync_ledger.tenant(tenant), embedder=EMBEDDER, fields=["text"])
    rng = random.Random(7)
    words = [f"w{i}" for i in range(400)]
    texts: dict[tuple[str, str], str] = {}
    for group in range(30):
        ops = []
        for i in range(100):
            text = " ".join(rng.sample(words, 6))
            texts[(f"g{group}", f"k{i}")] = text
            value = {"text": text, "parity": "even" if i % 2 == 0 else "odd"}
            ops.append(PutOp(("corpus", f"g{group}"), f"k{i}", value))
        store.batch(ops)
    vectors = dict(zip(texts, EMBEDDER.embed(list(texts.values())), strict=True))
    recalls = []
    for q in range(10):
        query = " ".join(rng.sample(words, 4))
        (qv,) = EMBEDDER.embed([query])
        scope = [k for k in texts if k[0] == f"g{q}" and int(k[1][1:]) % 2 == 0]
        exact = sorted(
            scope, key=lambda k: -sum(a * b for a, b in zip(qv, vectors[k], strict=True))
        )
        found = store.search(("corpus", f"g{q}"), query=query, filter={"parity": "even"}, limit=10)
        assert len(found) == 10 and all(r.value["parity"] == "even" for r in found)
        recalls.append(len({k[1] for k in exact[:10]} & {r.key for r in found}) / 10)
    assert sum(recalls) / len(recalls) >= 0.9, recalls


@pytest.fixture
async def here(settings: Settings) -> AsyncIterator[AsyncLedger]:
    async with AsyncLedger(settings, migrate=False) as ledger:
        yield ledger


async def test_the_async_store_answers_sync_calls_from_other_threads(here: AsyncLedger) -> None:
    tenant = (await here.tenants.create(f"t-{uuid.uuid4().hex[:12]}", "Async")).id
    store = AsyncAgentLedgerStore(here.tenant(tenant))
    await store.aput(("a",), "k", {"v": 1})
    # A graph's sync nodes run in worker threads; their calls run on the store's loop.
    got = await asyncio.to_thread(store.get, ("a",), "k")
    assert got is not None and got.value == {"v": 1}
    await asyncio.to_thread(store.put, ("a",), "k", {"v": 2})
    again = await store.aget(("a",), "k")
    assert again is not None and again.value == {"v": 2}
    # From the loop's own thread a sync call would wait for itself: refused.
    with pytest.raises(asyncio.InvalidStateError):
        store.get(("a",), "k")
