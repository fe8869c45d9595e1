"""Read replicas against a real streaming standby: reads go to it, writes and what decides
them to the primary, a stopped standby falls back to the primary, read-your-writes holds,
and tenant isolation still applies there."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest

from agentledger import AsyncLedger, Ledger, NotFound, Settings
from agentledger.db import migrate
from agentledger.db.binding import Binding
from agentledger.db.embedded import EmbeddedServer
from agentledger.db.statements import Gen, Op, Query, operation
from agentledger.errors import ConfigError
from agentledger.events import ops as events
from agentledger.memory import ops as memory_ops
from tests.conftest import server_dir
from tests.faces import AsyncFace

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")),
        reason="starts its own primary and standby from the embedded server's binaries; "
        "DATABASE_URL names an external server",
    ),
]

# Durable enough for a test, and commits reach the standby at once (no WAL writer delay).
OPTIONS = ("fsync=off",)
IN_RECOVERY = Query("in_recovery", "SELECT pg_is_in_recovery()")
VISIBLE_AGENTS = Query("visible_agents", "SELECT count(*) FROM agentledger.agents")


class Pair:
    """A primary and its streaming standby, with owner connections to both."""

    def __init__(self, root: Path) -> None:
        self.primary = EmbeddedServer(root / "primary", options=OPTIONS)
        self.standby = EmbeddedServer(root / "standby", options=OPTIONS)

    def primary_sql(self, sql: Any, params: tuple[Any, ...] = ()) -> Any:
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def standby_sql(self, sql: Any) -> Any:
        with psycopg.connect(self.standby.url(), autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def caught_up(self) -> None:
        """Wait until the standby has replayed everything committed so far."""
        lsn = self.primary_sql("SELECT pg_current_wal_insert_lsn()::text")
        deadline = time.monotonic() + 30
        while not self.standby_sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"):
            assert time.monotonic() < deadline, "the standby never caught up"
            time.sleep(0.01)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The standby replays nothing inside the block: what is written is on the
        primary only."""
        self.standby_sql("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            self.standby_sql("SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    root = server_dir()
    servers = Pair(root)
    try:
        migrate.upgrade(servers.primary.start().url())
        servers.standby.init_standby(servers.primary.status())
        servers.standby.start()
        servers.caught_up()
        yield servers
    finally:
        servers.standby.stop(mode="immediate")
        servers.primary.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_settings(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.build(
        database_url=pair.primary.url(),
        read_database_url=pair.standby.url(),
        data_dir=tmp_path_factory.mktemp("data"),
        pool_max_size=4,
        retry_backoff=0.05,
        read_retry_interval=0.2,
        read_your_writes_wait=0.05,
    )


@pytest.fixture(scope="module")
def sync_replica_ledger(replica_settings: Settings) -> Iterator[Ledger]:
    with Ledger(replica_settings, migrate=False) as ledger:
        yield ledger


@pytest.fixture(scope="module")
def async_replica_ledger(replica_settings: Settings, aio: asyncio.Runner) -> Iterator[AsyncLedger]:
    ledger = AsyncLedger(replica_settings, migrate=False)
    aio.run(ledger.open())
    yield ledger
    aio.run(ledger.close())


@pytest.fixture(params=["sync", "async"])
def ledger(request: pytest.FixtureRequest, aio: asyncio.Runner) -> Ledger:
    if request.param == "sync":
        face: Ledger = request.getfixturevalue("sync_replica_ledger")
        return face
    return cast(Ledger, AsyncFace(request.getfixturevalue("async_replica_ledger"), aio))


@pytest.fixture
def tenant(ledger: Ledger, pair: Pair) -> str:
    """A fresh tenant the standby already knows."""
    tid = f"r-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(tid)
    pair.caught_up()
    return tid


def _scalar(query: Query) -> Gen[Any]:
    value = yield query.scalar()
    return value


def _read(query: Query) -> Op[Any]:
    return Op(_scalar, (query,), writes=False, idempotent=True, standby=True)


def _on_standby(ledger: Ledger, tenant: str) -> bool:
    """Whether a read bound to ``tenant`` runs on a server in recovery."""
    return bool(ledger.db.run(_read(IN_RECOVERY), Binding.to_tenant(tenant)))


def _until_on_standby(ledger: Ledger, tenant: str) -> None:
    """Wait until reads run on the standby (after a restart, the pool reconnects)."""
    deadline = time.monotonic() + 30
    while not _on_standby(ledger, tenant):
        assert time.monotonic() < deadline, "reads never returned to the standby"
        time.sleep(0.05)


def test_reads_run_on_the_standby_and_writes_on_the_primary(
    ledger: Ledger, pair: Pair, tenant: str
) -> None:
    assert _on_standby(ledger, tenant)
    write = Op(_scalar, (IN_RECOVERY,), writes=True)
    assert ledger.db.run(write, Binding.to_tenant(tenant)) is False
    scope = ledger.tenant(tenant)
    with pair.paused():
        scope.agents.register("planner", agent_type="llm")  # a standby would refuse it
        count = "SELECT count(*) FROM agentledger.agents WHERE tenant_id = %s"
        assert pair.primary_sql(count, (tenant,)) == 1
        with pytest.raises(NotFound):
            scope.agents.get("planner")  # the standby does not have it yet
        assert scope.agents.list() == []


def test_what_decides_a_write_reads_the_primary(ledger: Ledger, pair: Pair, tenant: str) -> None:
    scope = ledger.tenant(tenant)
    with pair.paused():
        scope.events.append("order-1", "created", {"n": 1})
        assert scope.events.stream_version("order-1") == 1
        assert [e.type for e in scope.events.read_all()] == ["created"]
        assert scope.events.read_stream("order-1") == []  # a plain read: the standby's
        scope.events.append("order-1", "paid", {"n": 2}, expected_version=1)


def test_replayed_writes_are_read_from_the_standby(ledger: Ledger, pair: Pair, tenant: str) -> None:
    scope = ledger.tenant(tenant)
    scope.agents.register("planner", agent_type="llm")
    pair.caught_up()
    assert scope.agents.get("planner").name == "planner"


def test_read_your_writes_reads_the_primary_until_the_standby_has_them(
    ledger: Ledger, pair: Pair, tenant: str
) -> None:
    mine = ledger.tenant(tenant, read_your_writes=True)
    with pair.paused():
        mine.agents.register("planner", agent_type="llm")
        assert mine.agents.get("planner").name == "planner"
        with mine.transaction() as tx:
            tx.agents.register("critic", agent_type="llm")
        assert {a.name for a in mine.agents.list()} == {"planner", "critic"}
        assert ledger.tenant(tenant).agents.list() == []  # another handle: the standby
    pair.caught_up()
    with pair.paused():
        # Replayed now: this handle reads the standby again, which misses what others write.
        ledger.tenant(tenant).agents.register("other", agent_type="llm")
        assert {a.name for a in mine.agents.list()} == {"planner", "critic"}


def test_a_tenant_the_standby_does_not_know_yet_is_read_on_the_primary(
    ledger: Ledger, pair: Pair
) -> None:
    tid = f"r-{uuid.uuid4().hex[:10]}"
    with pair.paused():
        ledger.tenants.create(tid)
        assert ledger.tenant(tid).agents.list() == []
    with pytest.raises(NotFound, match="does not exist"):
        ledger.tenant("r-never-created").agents.list()


def test_tenant_isolation_and_rls_hold_on_the_standby(
    ledger: Ledger, pair: Pair, tenant: str
) -> None:
    other = f"r-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(other)
    ledger.tenant(tenant).agents.register("mine", agent_type="llm")
    for name in ("theirs-1", "theirs-2"):
        ledger.tenant(other).agents.register(name, agent_type="llm")
    pair.caught_up()
    assert _on_standby(ledger, tenant)
    assert [a.name for a in ledger.tenant(tenant).agents.list()] == ["mine"]
    with pytest.raises(NotFound):
        ledger.tenant(tenant).agents.get("theirs-1")
    # No tenant filter in the statement: row-level security on the standby keeps to one.
    assert ledger.db.run(_read(VISIBLE_AGENTS), Binding.to_tenant(tenant)) == 1
    assert ledger.db.run(_read(VISIBLE_AGENTS), Binding.to_tenant(other)) == 2


def test_a_stopped_standby_falls_back_to_the_primary_and_is_tried_again(
    ledger: Ledger, pair: Pair, tenant: str
) -> None:
    scope = ledger.tenant(tenant)
    scope.agents.register("planner", agent_type="llm")
    pair.caught_up()
    _until_on_standby(ledger, tenant)  # the other face's run of this test restarted it
    pair.standby.stop(mode="immediate")
    try:
        assert not _on_standby(ledger, tenant)  # no error: the primary answered
        assert scope.agents.get("planner").name == "planner"
        assert not _on_standby(ledger, tenant)
        health = ledger.health()
        assert health.database and health.standby is False
    finally:
        pair.standby.start()
    _until_on_standby(ledger, tenant)  # after read_retry_interval, and a reconnect
    assert ledger.health().standby is True
    assert ledger.pool_stats()["read_pool_size"] >= 1


def test_without_a_read_url_everything_runs_on_the_primary(
    pair: Pair, tmp_path: Path, tenant: str
) -> None:
    settings = Settings.build(database_url=pair.primary.url(), data_dir=tmp_path)
    with Ledger(settings, migrate=False) as plain:
        assert plain.db.standby is None
        assert not _on_standby(plain, tenant)
        assert plain.health().standby is None
        assert "read_pool_size" not in plain.pool_stats()


def test_a_multi_host_read_url_prefers_the_standby(pair: Pair, tmp_path: Path) -> None:
    """libpq picks the server: the standby while it runs, else the primary it also names."""
    primary, standby = pair.primary.status().port, pair.standby.status().port
    settings = Settings.build(
        database_url=pair.primary.url(),
        read_database_url=f"postgresql://127.0.0.1:{primary},127.0.0.1:{standby}/agentledger"
        "?target_session_attrs=prefer-standby",
        data_dir=tmp_path,
        read_retry_interval=0,
    )
    with Ledger(settings, migrate=False) as multi:
        tenant = f"r-{uuid.uuid4().hex[:10]}"
        multi.tenants.create(tenant)
        pair.caught_up()
        assert _on_standby(multi, tenant)
        pair.standby.stop(mode="immediate")
        try:
            assert not _on_standby(multi, tenant)  # the pool's connection was lost
            assert not _on_standby(multi, tenant)  # a new one, to the primary
            assert multi.db.standby is not None
            with multi.db.standby.pool.connection() as conn:
                assert conn.info.port == primary
        finally:
            pair.standby.start()


def test_touched_reads_run_on_the_standby_and_their_access_is_written_on_the_primary(
    ledger: Ledger, pair: Pair, tenant: str
) -> None:
    mem = ledger.tenant(tenant).memory
    entity = mem.upsert("fact", "sky is blue", key="sky")
    pair.caught_up()
    with pair.paused():
        mem.get(entity.id, touch=True)  # a plain read: the access is counted, not written
        assert mem.get_by_key("sky", touch=True) is not None
        assert mem.search_text("sky", touch=True)[0].entity.id == entity.id
        assert ledger.flush_access() == 1  # on the primary: a standby would refuse it
        count = "SELECT access_count FROM agentledger.memory_entities WHERE id = %s"
        assert pair.primary_sql(count, (entity.id,)) == 3
    # A touch written with its read (in a transaction, or an interval of 0) is a write.
    assert memory_ops.get(entity.id).on_standby
    assert not memory_ops.get(entity.id, touch=True).on_standby


def test_reads_that_decide_writes_stay_on_the_primary() -> None:
    assert events.read_stream("s").on_standby
    for op in (
        events.read_all(),
        events.checkpoint("sub"),
        events.stream_version("s"),
        events.append_fields("s", "t", {}, event_id=uuid.uuid4()),
    ):
        assert not op.on_standby, op.name
    with pytest.raises(ValueError, match="never runs on a standby"):
        operation(writes=True, standby=True)


def test_a_read_url_must_be_postgresql() -> None:
    with pytest.raises(ConfigError, match="read_database_url"):
        Settings.build(read_database_url="mysql://replica/db")
