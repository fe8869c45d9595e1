"""Through a transaction-mode pooler (PgBouncer, pool_mode=transaction), with
``pooler="transaction"``: each transaction may run on another server session, shared by
other clients, so nothing may rest on the session -- no prepared statements, no session
options, no LISTEN or session locks on it (docs/deploying.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.sql
import pytest
from chaos.pgbouncer import PgBouncer

from agentledger import AsyncLedger, ConfigError, Ledger, QueryTimeout, Settings, Unavailable
from agentledger.api import create_app
from agentledger.db.binding import Binding
from agentledger.db.statements import Gen, Queries, operation
from tests.http_server import client, serve

Q = Queries.beside(__file__, "pooler_ops.sql")
ROUNDS = 12  # past psycopg's prepare threshold (5) on every connection


@pytest.fixture(scope="module")
def bouncer(settings: Settings) -> Iterator[PgBouncer]:
    assert settings.database_url is not None
    with PgBouncer(settings.database_url, settings.app_role) as running:
        yield running


@pytest.fixture(scope="module")
def pooled(settings: Settings, bouncer: PgBouncer) -> Settings:
    return settings.with_(
        app_url=bouncer.url,
        pooler="transaction",
        pool_max_size=6,
        statement_timeout_ms=4321,
        idle_in_transaction_timeout_ms=54321,
    )


def _as(url: str | None, user: str) -> str:
    """``url`` logged in as ``user``."""
    assert url is not None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.split('@')[-1]}"))


@pytest.fixture(scope="module")
def direct_app_url(settings: Settings) -> str:
    """The app role's own session on the server, past the pooler."""
    return _as(settings.database_url, settings.app_role)


@pytest.fixture(scope="module")
def ledger(pooled: Settings) -> Iterator[Ledger]:
    with Ledger(pooled, migrate=False) as opened:
        yield opened


def _tenant(ledger: Ledger) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tid)
    return tid


@operation(writes=False)
def _session_state(alone: bool) -> Gen[dict[str, Any]]:
    if alone:
        row = yield Q.session_state.one().alone()
        return dict(row)
    yield Q.session_state.one()  # a transaction of two statements: BEGIN ... COMMIT
    row = yield Q.session_state.one()
    return dict(row)


@operation(writes=False)
def _sleep(seconds: float) -> Gen[None]:
    yield Q.sleep.one(seconds=seconds)


def test_without_the_setting_the_pooler_refuses_the_sessions_options(
    settings: Settings, bouncer: PgBouncer
) -> None:
    plain = settings.with_(app_url=bouncer.url, pool_timeout=0.5, retry_attempts=1)
    with pytest.raises(ConfigError) as refused:
        Ledger(plain, migrate=False).open()
    assert refused.value.field == "pooler"
    assert "unsupported startup parameter: options" in str(refused.value)
    assert "AGENTLEDGER_POOLER=transaction" in str(refused.value)


def test_a_server_that_refuses_the_login_says_why(settings: Settings) -> None:
    nobody = _as(settings.database_url, "no_such_role")
    with pytest.raises(Unavailable) as refused:
        Ledger(settings.with_(app_url=nobody, pool_timeout=0.5), migrate=False).open()
    assert 'role "no_such_role" does not exist' in str(refused.value)


def test_two_tenants_write_and_read_concurrently_through_the_pooler(ledger: Ledger) -> None:
    tenants = [_tenant(ledger), _tenant(ledger)]
    errors: list[BaseException] = []

    def work(tenant: str, worker: int) -> None:
        scope = ledger.tenant(tenant)
        try:
            for n in range(ROUNDS):
                stream = f"w{worker}"
                scope.events.append(stream, "Step", {"n": n}, expected_version=n)
                scope.memory.upsert("note", f"w{worker}-{n}", attrs={"n": n}, tags=[tenant])
                scope.tasks.enqueue("jobs", {"worker": worker, "n": n})
                assert scope.events.stream_version(stream) == n + 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t, w)) for t in tenants for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for tenant in tenants:
        scope = ledger.tenant(tenant)
        events = scope.events.read_all(limit=1000)
        assert len(events) == 3 * ROUNDS
        assert {e.stream for e in events} == {"w0", "w1", "w2"}
        for worker in range(3):
            assert [e.payload["n"] for e in scope.events.read_stream(f"w{worker}")] == list(
                range(ROUNDS)
            )
        notes = scope.memory.list(limit=1000)
        assert len(notes) == 3 * ROUNDS and {tuple(e.tags) for e in notes} == {(tenant,)}
        claimed = scope.tasks.claim("jobs", limit=1000)
        assert len(claimed) == 3 * ROUNDS


def test_each_transaction_carries_the_sessions_settings(
    ledger: Ledger, pooled: Settings, bouncer: PgBouncer
) -> None:
    tenant = _tenant(ledger)
    for alone in (True, False):
        for _ in range(ROUNDS):
            state = ledger.db.run(_session_state(alone), Binding.to_tenant(tenant))
            assert state == {
                "tenant": tenant,
                "statement_timeout": "4321ms",
                "idle_timeout": "54321ms",
                "time_zone": "UTC",
            }
    # Nothing stays on the server sessions for the pooler's next client.
    with psycopg.connect(bouncer.url, autocommit=True, prepare_threshold=None) as other:
        for _ in range(4):
            row = other.execute(
                "SELECT current_setting('agentledger.tenant_id', true),"
                " current_setting('statement_timeout')"
            ).fetchone()
            assert row is not None and row[0] in (None, "") and row[1] != "4321ms"


def test_datetimes_come_back_in_utc_when_the_servers_zone_is_not(
    settings: Settings, direct_app_url: str
) -> None:
    """A transaction-mode session keeps the server's zone (UTC is set per transaction), which
    psycopg would give every datetime; records carry UTC whatever it is."""
    dbname = urlsplit(direct_app_url).path.lstrip("/")
    assert settings.database_url is not None
    zone = psycopg.sql.SQL("ALTER ROLE {} IN DATABASE {} {}")
    role, db = psycopg.sql.Identifier(settings.app_role), psycopg.sql.Identifier(dbname)
    with psycopg.connect(settings.database_url, autocommit=True) as owner:
        owner.execute(zone.format(role, db, psycopg.sql.SQL("SET TimeZone = 'Pacific/Kiritimati'")))
    try:
        with Ledger(settings.with_(pooler="transaction"), migrate=False) as ledger:
            scope = ledger.tenant(_tenant(ledger))
            at = dt.datetime(2024, 6, 1, 15, 0, tzinfo=dt.UTC)
            run = scope.runs.start("tz", at=at)
            event = scope.events.append("tz", "Seen", {})
            stored = [scope.runs.get(run.id).started_at, event.created_at]
            stored += [scope.events.get(event.event_id).created_at]
        assert stored[0] == at
        assert [value.utcoffset() for value in stored] == [dt.timedelta(0)] * 3
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as owner:
            owner.execute(zone.format(role, db, psycopg.sql.SQL("RESET TimeZone")))


def test_the_statement_timeout_holds_through_the_pooler(pooled: Settings) -> None:
    with Ledger(pooled.with_(statement_timeout_ms=200), migrate=False) as short:
        tenant = _tenant(short)
        with pytest.raises(QueryTimeout):
            short.db.run(_sleep(3), Binding.to_tenant(tenant))
        short.db.run(_sleep(0.01), Binding.to_tenant(tenant))


def test_a_worker_works_through_the_pooler(ledger: Ledger) -> None:
    scope = ledger.tenant(_tenant(ledger))
    for n in range(20):
        scope.tasks.enqueue("work", {"n": n})
    done: list[int] = []
    stats = scope.tasks.worker(
        "work", lambda task: done.append(task.input["n"]), concurrency=3, poll_interval=0.1
    ).run(until_empty=True)
    assert stats.completed == 20 and sorted(done) == list(range(20))


def test_a_pooler_restart_is_an_outage_the_ledger_rides_out(settings: Settings) -> None:
    """Stopping the pooler breaks every connection through it: calls fail as Unavailable
    while it is down, and the first one after its return is served."""
    assert settings.database_url is not None
    with PgBouncer(settings.database_url, settings.app_role) as restarted:
        through = settings.with_(
            app_url=restarted.url, pooler="transaction", pool_timeout=0.5, retry_attempts=2
        )
        with Ledger(through, migrate=False) as ledger:
            events = ledger.tenant(_tenant(ledger)).events
            events.append("s", "Before", {})
            restarted.stop()
            with pytest.raises(Unavailable):
                events.append("s", "During", {})
            restarted.start()
            events.append("s", "After", {})
            assert [e.type for e in events.read_stream("s")] == ["Before", "After"]


def test_leader_locks_need_a_session_url(pooled: Settings, direct_app_url: str) -> None:
    with Ledger(pooled, migrate=False) as ledger:
        with pytest.raises(ConfigError) as refused:
            ledger.db.leader_lock("relay/x")
        assert refused.value.field == "session_url"
    with (
        Ledger(pooled.with_(session_url=direct_app_url), migrate=False) as ledger,
        ledger.db.leader_lock("relay/x") as lock,
        ledger.db.leader_lock("relay/x") as rival,
    ):
        assert lock.acquire() and lock.held()
        assert not rival.acquire()


def test_followers_poll_without_a_session_url(pooled: Settings, aio: asyncio.Runner) -> None:
    async def run() -> None:
        async with AsyncLedger(pooled, migrate=False) as ledger:
            tenant = f"t-{uuid.uuid4().hex[:12]}"
            await ledger.tenants.create(tenant)
            scope = ledger.tenant(tenant)
            assert not ledger.db.wakeups.listening
            async with scope.follow(poll_interval=0.2) as follower:
                await scope.events.append("s", "Seen", {})
                batch = await follower.next_batch(timeout=10)
                assert [e.type for e in batch] == ["Seen"]
                assert ledger.db.wakeups.connections() == 0  # no LISTEN through the pooler

    aio.run(run())


def test_with_a_session_url_followers_are_woken(
    pooled: Settings, direct_app_url: str, aio: asyncio.Runner
) -> None:
    async def run() -> None:
        async with AsyncLedger(pooled.with_(session_url=direct_app_url), migrate=False) as ledger:
            tenant = f"t-{uuid.uuid4().hex[:12]}"
            await ledger.tenants.create(tenant)
            scope = ledger.tenant(tenant)
            # Polling alone would read again only after the 60 s interval, past the timeout:
            # the event arrives because the append's NOTIFY, sent through the pooler, woke
            # the follower LISTENing on its session.
            async with scope.follow(poll_interval=60) as follower:
                assert ledger.db.wakeups.connections() == 1

                async def later() -> None:
                    await asyncio.sleep(0.3)
                    await scope.events.append("s", "Woken", {})

                appending = asyncio.create_task(later())
                batch = await follower.next_batch(timeout=20)
                await appending
                assert [e.type for e in batch] == ["Woken"]

    aio.run(run())


def test_the_api_serves_keys_and_alert_streams_through_the_pooler(
    ledger: Ledger, pooled: Settings
) -> None:
    """Keys are found and alert streams delivered without wake-ups: a stream reads every
    ``sse_poll`` seconds (its fallback for lost wake-ups is set past the test here)."""
    tenant = _tenant(ledger)
    key = ledger.tenant(tenant).keys.create(role="reader").secret
    app = create_app(pooled)
    app.state.sse_poll, app.state.sse_fallback = 0.1, 3600.0
    with serve(app) as base, client(base, key) as http:
        assert http.get("/v1/alerts").status_code == 200
        with http.stream("GET", "/v1/alerts/stream") as response:
            lines = response.iter_lines()
            assert next(lines) == ": following new alerts"
            raised = ledger.tenant(tenant).alerts.create(1, "fire")
            assert next(line for line in lines if line.startswith("id: ")) == f"id: {raised.id}"
