"""TTL on the LangGraph store, as LangGraph's own store tests check it (expiry, refresh on
read or not, default TTL, sweeping), run on AgentLedgerStore (both faces) and, as the
control, on LangGraph's PostgresStore with ``omit_expired`` (InMemoryStore has no TTL).

Time passes by a clock each test moves: ``advance(minutes)`` moves every stored expiry that
far back, which is to a TTL what the minutes passing would be; nothing sleeps."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from langgraph.store.base import BaseStore, PutOp, TTLConfig
from langgraph.store.postgres import PostgresStore

from agentledger import HashingEmbedder, InvalidInput, Ledger
from agentledger.expiry.ops import MAX_TTL_MINUTES
from agentledger.integrations.langgraph import AgentLedgerStore, AsyncAgentLedgerStore
from tests.test_langgraph_store import OnLoop, fresh_tenant

EMBEDDER = HashingEmbedder()
STORES = ["postgres-store", "agentledger", "agentledger-async"]
NS = ("memories", "u1")
INDEX = {"dims": 384, "embed": EMBEDDER.embed, "fields": ["$"]}
# Every store here is indexed, PostgresStore and ours alike: their vectors need pgvector.
pytestmark = pytest.mark.pgvector


class TimedOnLoop(OnLoop):
    """OnLoop for a store with TTL: the TTL config is the inner store's."""

    supports_ttl = True

    def __init__(self, inner: BaseStore, runner: asyncio.Runner) -> None:
        super().__init__(inner, runner)
        self.ttl_config = inner.ttl_config


@dataclass
class Timed:
    """A store with its clock and its sweep."""

    store: BaseStore
    advance: Callable[[float], None]
    sweep: Callable[[], int]


@pytest.fixture(scope="module")
def owner(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def postgres_setup(database_url: str) -> str:
    with PostgresStore.from_conn_string(database_url, index=INDEX) as pg:  # type: ignore[arg-type]
        pg.setup()
    return database_url


@pytest.fixture(params=STORES)
def make_timed(
    request: pytest.FixtureRequest,
    sync_ledger: Ledger,
    aio: asyncio.Runner,
    owner: psycopg.Connection[Any],
) -> Iterator[Callable[..., Timed]]:
    """Makes an empty store with ``ttl`` as its TTL config (indexed: queries rank)."""
    exits: list[Callable[[], object]] = []

    def make(ttl: TTLConfig | None = None) -> Timed:
        if request.param == "postgres-store":
            url = request.getfixturevalue("postgres_setup")
            owner.execute("DELETE FROM store")
            manager = PostgresStore.from_conn_string(
                url,
                index=INDEX,  # type: ignore[arg-type]
                ttl={**(ttl or {}), "omit_expired": True},
            )
            pg = manager.__enter__()
            exits.append(lambda: manager.__exit__(None, None, None))

            def advance_pg(minutes: float) -> None:
                owner.execute(
                    "UPDATE store SET expires_at = expires_at - make_interval(secs => %s)",
                    [minutes * 60],
                )

            return Timed(pg, advance_pg, pg.sweep_ttl)
        tenant = fresh_tenant(sync_ledger)

        def advance(minutes: float) -> None:
            owner.execute(
                "UPDATE agentledger.entity_expiry"
                " SET expires_at = expires_at - make_interval(secs => %s) WHERE tenant_id = %s",
                [minutes * 60, tenant],
            )

        if request.param == "agentledger":
            ours = AgentLedgerStore(sync_ledger.tenant(tenant), embedder=EMBEDDER, ttl=ttl)
            return Timed(ours, advance, ours.sweep_ttl)
        async_ledger = request.getfixturevalue("async_ledger")
        inner = AsyncAgentLedgerStore(async_ledger.tenant(tenant), embedder=EMBEDDER, ttl=ttl)
        return Timed(TimedOnLoop(inner, aio), advance, lambda: aio.run(inner.sweep_ttl()))

    yield make
    for leave in exits:
        leave()


def test_an_item_is_gone_from_every_read_once_its_ttl_runs_out(
    make_timed: Callable[..., Timed],
) -> None:
    timed = make_timed({"refresh_on_read": False})
    store = timed.store
    store.put(NS, "short", {"text": "tea on fridays"}, ttl=1)
    store.put(NS, "long", {"text": "coffee on mondays"}, ttl=10)
    store.put(("other",), "kept", {"text": "no ttl"})
    timed.advance(0.9)
    assert store.get(NS, "short") is not None
    assert sorted(i.key for i in store.search(NS)) == ["long", "short"]
    timed.advance(0.2)  # 1.1 minutes after the put: before any sweep
    assert store.get(NS, "short") is None
    assert [i.key for i in store.search(NS)] == ["long"]
    assert [i.key for i in store.search(NS, query="tea on fridays")] == ["long"]
    store.put(("gone",), "x", {"v": 1}, ttl=1)
    timed.advance(2)
    assert store.list_namespaces() == [NS, ("other",)]
    assert store.list_namespaces(prefix=("gone",)) == []


def test_reads_refresh_the_ttl_unless_asked_not_to(make_timed: Callable[..., Timed]) -> None:
    """LangGraph's test_store_ttl: each read with refresh_ttl restarts the TTL."""
    store_ttl = make_timed()
    store, advance = store_ttl.store, store_ttl.advance
    store.put(NS, "item1", {"foo": "bar"}, ttl=1)
    advance(0.75)
    assert store.get(NS, "item1", refresh_ttl=True) is not None
    advance(0.75)
    assert len(store.search(NS, query="foo", refresh_ttl=True)) == 1
    advance(0.75)
    assert store.get(NS, "item1", refresh_ttl=False) is not None
    advance(0.3)  # 1.05 minutes since the search refreshed it
    assert store.search(NS, query="bar", refresh_ttl=False) == []
    assert store.get(NS, "item1") is None


def test_the_config_gives_a_default_ttl_and_whether_reads_refresh(
    make_timed: Callable[..., Timed],
) -> None:
    store_ttl = make_timed({"default_ttl": 1, "refresh_on_read": False})
    store, advance = store_ttl.store, store_ttl.advance
    store.put(NS, "default", {"v": 1})
    store.put(NS, "forever", {"v": 2}, ttl=None)
    store.put(NS, "own", {"v": 3}, ttl=5)
    advance(0.75)
    assert store.get(NS, "default") is not None  # no refresh: the config says so
    assert len(store.search(NS)) == 3
    advance(0.5)
    assert store.get(NS, "default") is None
    assert sorted(i.key for i in store.search(NS)) == ["forever", "own"]
    assert store.get(NS, "own", refresh_ttl=True) is not None
    advance(4.9)  # 5.15 minutes since the put, 4.9 since the refresh
    assert store.get(NS, "own") is not None


def test_a_write_sets_the_ttl_anew(make_timed: Callable[..., Timed]) -> None:
    store_ttl = make_timed()
    store, advance = store_ttl.store, store_ttl.advance
    store.put(NS, "a", {"v": 1}, ttl=1)
    store.put(NS, "a", {"v": 2})  # a put without a TTL: it never expires
    store.put(NS, "b", {"v": 1}, ttl=1)
    advance(0.9)
    store.batch([PutOp(NS, "b", {"v": 2}, ttl=2)])
    advance(1.5)
    item = store.get(NS, "a", refresh_ttl=False)
    assert item is not None and item.value == {"v": 2}
    assert store.get(NS, "b", refresh_ttl=False) is not None
    advance(1)
    assert store.get(NS, "b") is None


def test_a_sweep_deletes_what_ran_out_and_nothing_else(make_timed: Callable[..., Timed]) -> None:
    store_ttl = make_timed({"refresh_on_read": False})
    store, advance = store_ttl.store, store_ttl.advance
    for i in range(5):
        store.put(NS, f"old{i}", {"i": i}, ttl=1)
    store.put(NS, "young", {"i": 5}, ttl=10)
    store.put(NS, "kept", {"i": 6})
    store.put(NS, "rewritten", {"i": 7}, ttl=1)
    store.put(NS, "rewritten", {"i": 8})
    advance(2)
    assert store_ttl.sweep() == 5
    assert store_ttl.sweep() == 0
    assert sorted(i.key for i in store.search(NS)) == ["kept", "rewritten", "young"]


def test_a_page_is_whole_however_many_expired_items_it_passes(
    make_timed: Callable[..., Timed],
) -> None:
    store_ttl = make_timed({"refresh_on_read": False})
    store, advance = store_ttl.store, store_ttl.advance
    for i in range(3):
        store.put(NS, f"live{i}", {"text": f"renewal invoice {i}"})
    for i in range(6):  # newer, and closer to the query: ahead of the live ones in each order
        store.put(NS, f"gone{i}", {"text": "renewal invoice pricing"}, ttl=1)
    advance(2)
    assert sorted(i.key for i in store.search(NS, limit=3)) == ["live0", "live1", "live2"]
    found = store.search(NS, query="renewal invoice pricing", limit=3)
    assert sorted(i.key for i in found) == ["live0", "live1", "live2"]
    assert [i.key for i in store.search(NS, limit=2, offset=1)] == ["live1", "live0"]


# -- agentledger only -------------------------------------------------------------------------


@pytest.fixture
def ours(sync_ledger: Ledger) -> tuple[AgentLedgerStore, str]:
    tenant = fresh_tenant(sync_ledger)
    return AgentLedgerStore(sync_ledger.tenant(tenant)), tenant


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "5", True])
def test_a_bad_ttl_is_refused_naming_ttl_and_writes_nothing(
    ours: tuple[AgentLedgerStore, str], ttl: Any
) -> None:
    store, _ = ours
    with pytest.raises(InvalidInput) as raised:
        store.batch([PutOp(NS, "ok", {"v": 1}), PutOp(NS, "bad", {"v": 2}, ttl=ttl)])
    assert raised.value.field == "ttl"
    assert store.search(NS) == []


# Past the limit: just past it, past what PostgreSQL holds, near a double's top, and an int
# no double holds.
FAR = [MAX_TTL_MINUTES + 1, 1e12, 1e300, 10**400]


@pytest.fixture(params=STORES[1:])
def make_ours(
    request: pytest.FixtureRequest, sync_ledger: Ledger, aio: asyncio.Runner
) -> Callable[..., tuple[BaseStore, str]]:
    """Makes an empty AgentLedgerStore on either face with ``ttl`` as its TTL config; and
    its tenant."""

    def make(ttl: TTLConfig | None = None) -> tuple[BaseStore, str]:
        tenant = fresh_tenant(sync_ledger)
        if request.param == "agentledger":
            return AgentLedgerStore(sync_ledger.tenant(tenant), ttl=ttl), tenant
        async_ledger = request.getfixturevalue("async_ledger")
        return TimedOnLoop(AsyncAgentLedgerStore(async_ledger.tenant(tenant), ttl=ttl), aio), tenant

    return make


def test_a_ttl_is_at_most_what_postgresql_holds_from_now(
    make_ours: Callable[..., tuple[BaseStore, str]], owner: psycopg.Connection[Any]
) -> None:
    """The limit is kept, refreshed and read; past it a put's TTL, or the config's default,
    is InvalidInput naming ``ttl`` that says the limit, and the batch writes nothing."""
    store, tenant = make_ours()
    store.put(NS, "far", {"v": 1}, ttl=MAX_TTL_MINUTES)
    assert store.get(NS, "far", refresh_ttl=True) is not None
    row = owner.execute(
        "SELECT ttl_minutes, expires_at > now() + interval '90000 years'"
        " FROM agentledger.entity_expiry WHERE tenant_id = %s",
        [tenant],
    ).fetchone()
    assert row == (MAX_TTL_MINUTES, True)
    for ttl in FAR:
        with pytest.raises(InvalidInput) as raised:
            store.batch([PutOp(NS, "ok", {"v": 1}), PutOp(NS, "bad", {"v": 2}, ttl=ttl)])
        assert raised.value.field == "ttl" and f"{MAX_TTL_MINUTES:,} minutes" in str(raised.value)
        configured, _ = make_ours({"default_ttl": ttl})
        with pytest.raises(InvalidInput) as raised:
            configured.put(NS, "k", {"v": 1})
        assert raised.value.field == "ttl"
        assert configured.search(NS) == []
    assert [i.key for i in store.search(NS)] == ["far"]


def test_set_ttls_refuses_a_ttl_past_the_limit_naming_ttl(ledger: Ledger, tenant_id: str) -> None:
    """The expiry module itself, on both faces: nothing set, no error from PostgreSQL."""
    scope = ledger.tenant(tenant_id)
    ids = [scope.memory.upsert("fact", name).id for name in ("near", "far")]
    for ttl in FAR:
        with pytest.raises(InvalidInput) as raised:
            scope.expiry.set_ttls(ids, [60, ttl])
        assert raised.value.field == "ttl"
    assert [f.ttl_minutes for f in scope.expiry.list()] == [None, None]
    assert scope.expiry.set_ttls(ids, [60, MAX_TTL_MINUTES]) == 2


def test_the_sweep_goes_in_batches_and_keeps_to_its_tenant(
    sync_ledger: Ledger, owner: psycopg.Connection[Any]
) -> None:
    a, b = fresh_tenant(sync_ledger), fresh_tenant(sync_ledger)
    store_a = AgentLedgerStore(sync_ledger.tenant(a))
    store_b = AgentLedgerStore(sync_ledger.tenant(b))
    store_a.batch([PutOp(NS, f"k{i}", {"i": i}, ttl=1) for i in range(7)])
    store_b.put(NS, "k0", {"i": 0}, ttl=1)
    owner.execute(
        "UPDATE agentledger.entity_expiry SET expires_at = expires_at - interval '2 minutes'"
        " WHERE tenant_id = ANY(%s)",
        [[a, b]],
    )
    assert sync_ledger.tenant(b).expiry.list() == []
    assert sync_ledger.tenant(a).expiry.sweep(batch_size=3) == 7  # batches of 3, 3 and 1
    count = owner.execute(
        "SELECT count(*) FROM agentledger.memory_entities WHERE tenant_id = %s", [b]
    ).fetchone()
    assert count == (1,)
    assert store_b.sweep_ttl() == 1
    rows = owner.execute(
        "SELECT count(*) FROM agentledger.entity_expiry WHERE tenant_id = ANY(%s)", [[a, b]]
    ).fetchone()
    assert rows == (0,)


def test_the_sweeper_runs_until_stopped(
    ours: tuple[AgentLedgerStore, str], owner: psycopg.Connection[Any]
) -> None:
    bare, _ = ours
    assert bare.start_ttl_sweeper().done()  # no TTL config: nothing to run, as LangGraph's
    store, tenant = ours
    store.ttl_config = {"sweep_interval_minutes": 1}
    store.put(NS, "k", {"v": 1}, ttl=1)
    owner.execute(
        "UPDATE agentledger.entity_expiry SET expires_at = now() - interval '1 minute'"
        " WHERE tenant_id = %s",
        [tenant],
    )
    store.start_ttl_sweeper(sweep_interval_minutes=0.001)  # type: ignore[arg-type]
    deadline = time.monotonic() + 30
    while owner.execute(
        "SELECT count(*) FROM agentledger.memory_entities WHERE tenant_id = %s", [tenant]
    ).fetchone() != (0,):
        assert time.monotonic() < deadline, "the sweeper never swept"
        time.sleep(0.05)
    assert store.stop_ttl_sweeper(timeout=30)
    assert store.stop_ttl_sweeper()


def test_the_async_sweeper_runs_until_stopped(
    async_ledger: Any, aio: asyncio.Runner, owner: psycopg.Connection[Any], sync_ledger: Ledger
) -> None:
    tenant = fresh_tenant(sync_ledger)
    store = AsyncAgentLedgerStore(async_ledger.tenant(tenant), ttl={"default_ttl": 1})

    async def scenario() -> None:
        await store.aput(NS, "k", {"v": 1})
        owner.execute(
            "UPDATE agentledger.entity_expiry SET expires_at = now() - interval '1 minute'"
            " WHERE tenant_id = %s",
            [tenant],
        )
        task = await store.start_ttl_sweeper(sweep_interval_minutes=0.001)  # type: ignore[arg-type]
        while await store.asearch(NS) or owner.execute(
            "SELECT count(*) FROM agentledger.memory_entities WHERE tenant_id = %s", [tenant]
        ).fetchone() != (0,):
            await asyncio.sleep(0.05)
        assert await store.stop_ttl_sweeper(timeout=30)
        assert task.done()

    aio.run(asyncio.wait_for(scenario(), timeout=60))


def test_ttl_rows_are_the_tenants_own(sync_ledger: Ledger, database_url: str) -> None:
    """Row-level security: the app role sees no other tenant's TTLs, even by id."""
    a, b = fresh_tenant(sync_ledger), fresh_tenant(sync_ledger)
    AgentLedgerStore(sync_ledger.tenant(a)).put(NS, "k", {"v": 1}, ttl=5)
    seen = sync_ledger.tenant(b).fetch("SELECT count(*) AS n FROM agentledger.entity_expiry")
    mine = sync_ledger.tenant(a).fetch("SELECT count(*) AS n FROM agentledger.entity_expiry")
    assert seen[0]["n"] == 0 and mine[0]["n"] == 1
    assert uuid.UUID(str(sync_ledger.tenant(a).expiry.list()[0].entity.id))


def test_a_suspended_tenant_reads_its_items_with_their_ttls_standing_still(
    sync_ledger: Ledger, owner: psycopg.Connection[Any]
) -> None:
    tenant = fresh_tenant(sync_ledger)
    store = AgentLedgerStore(sync_ledger.tenant(tenant))
    store.put(NS, "k", {"v": 1}, ttl=5)
    before = owner.execute(
        "SELECT expires_at FROM agentledger.entity_expiry WHERE tenant_id = %s", [tenant]
    ).fetchone()
    sync_ledger.tenants.suspend(tenant)
    try:
        got = store.get(NS, "k", refresh_ttl=True)
        assert got is not None and got.value == {"v": 1}
        assert [i.key for i in store.search(NS, refresh_ttl=True)] == ["k"]
        after = owner.execute(
            "SELECT expires_at FROM agentledger.entity_expiry WHERE tenant_id = %s", [tenant]
        ).fetchone()
        assert after == before
    finally:
        sync_ledger.tenants.activate(tenant)


def test_a_sweep_interval_is_a_positive_number_of_minutes_within_a_year(
    sync_ledger: Ledger,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    store = AgentLedgerStore(sync_ledger.tenant(tenant), ttl={"default_ttl": 5})
    for bad in (-1, 1e300, "5"):
        with pytest.raises(InvalidInput) as info:
            store.start_ttl_sweeper(bad)  # type: ignore[arg-type]
        assert info.value.field == "sweep_interval_minutes"
    assert store._sweeper is None  # nothing was started
