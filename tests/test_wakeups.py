"""Followers of one async ledger share one LISTEN connection: however many wait, the database
sees one listener, every one of them is woken by an append, the connection is reopened
after a loss, and it closes with the last follower. The API's alert streams wait on one
shared connection too, and a raised alert reaches every one of them at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import psycopg
import pytest

from agentledger import AsyncLedger, Ledger, Settings, Unavailable
from agentledger.alerts import ALERTS_CHANNEL
from agentledger.api import create_app
from agentledger.db.wakeups import AsyncWakeups
from agentledger.events import EVENTS_CHANNEL
from agentledger.events.follow_async import AsyncFollower
from tests.http_server import serve

FOLLOWERS = 12
# Followers that never poll on their own within a test: only a notification wakes them.
NEVER = 3600.0
# A bound on how long something that should happen at once may take before the test fails.
BOUND = 60.0


def _listening(database_url: str, channel: str = EVENTS_CHANNEL) -> list[int]:
    """The backends LISTENing on ``channel``, as the database sees them."""
    with psycopg.connect(database_url, autocommit=True) as owner:
        rows = owner.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
            [f'LISTEN "{channel}"'],
        ).fetchall()
    return [r[0] for r in rows]


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    async def loop() -> None:
        while not await check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), BOUND)


@asynccontextmanager
async def _following(ledger: AsyncLedger) -> AsyncIterator[tuple[str, list[AsyncFollower]]]:
    """A fresh tenant and FOLLOWERS open followers of its log (closed on the way out)."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    await ledger.tenants.create(tenant)
    scope = ledger.tenant(tenant)
    followers = [await scope.follow(after=0, poll_interval=NEVER).open() for _ in range(FOLLOWERS)]
    try:
        yield tenant, followers
    finally:
        for follower in followers:
            await follower.close()


async def _all_woken(ledger: AsyncLedger, tenant: str, followers: list[AsyncFollower]) -> None:
    """Each follower waits (never polling on its own); one append wakes every one."""
    waiting = [asyncio.create_task(f.next_batch(timeout=NEVER)) for f in followers]
    await asyncio.sleep(0.2)  # all of them waiting on the shared connection
    assert not any(t.done() for t in waiting)
    await ledger.tenant(tenant).events.append("s", "Woke", {})
    batches = await asyncio.wait_for(asyncio.gather(*waiting), BOUND)
    assert [[e.type for e in b] for b in batches] == [["Woke"]] * FOLLOWERS


def test_many_followers_share_one_connection_and_all_wake(
    async_ledger: AsyncLedger, aio: asyncio.Runner, database_url: str
) -> None:
    wakeups = async_ledger.db.wakeups

    async def main() -> None:
        async with _following(async_ledger) as (tenant, followers):
            assert wakeups.connections() == 1
            assert len(await asyncio.to_thread(_listening, database_url)) == 1
            await _all_woken(async_ledger, tenant, followers)

        async def closed() -> bool:
            return wakeups.connections() == 0

        await _until(closed)  # the last follower gone, so is the connection

    aio.run(main())
    assert _listening(database_url) == []


def test_the_shared_connection_is_reopened_after_a_loss(
    async_ledger: AsyncLedger, aio: asyncio.Runner, database_url: str
) -> None:
    async def main() -> None:
        async with _following(async_ledger) as (tenant, followers):
            (before,) = await asyncio.to_thread(_listening, database_url)
            with psycopg.connect(database_url, autocommit=True) as owner:
                owner.execute("SELECT pg_terminate_backend(%s)", [before])

            async def replaced() -> bool:
                now = await asyncio.to_thread(_listening, database_url)
                return len(now) == 1 and now != [before]

            await _until(replaced)
            for follower in followers:  # woken at the loss: each read, and found nothing
                assert await follower.next_batch(timeout=0) == []
            await _all_woken(async_ledger, tenant, followers)

    aio.run(main())


def test_the_first_follower_hears_a_down_database(settings: Settings, aio: asyncio.Runner) -> None:
    """The first subscriber opens the connection itself, so a database it cannot reach is
    its error (as a follower's own connection was), not a silent follower."""
    unreachable = settings.with_(database_url="postgresql://127.0.0.1:1/none", connect_timeout=1)
    wakeups = AsyncWakeups(unreachable, str(unreachable.database_url))

    async def main() -> None:
        with pytest.raises(Unavailable):
            await wakeups.subscribe(EVENTS_CHANNEL).open()
        assert wakeups.connections() == 0
        await wakeups.close()

    aio.run(main())


def test_alert_streams_share_a_connection_and_hear_a_raised_alert(
    settings: Settings, sync_ledger: Ledger, aio: asyncio.Runner, database_url: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tenant)
    key = sync_ledger.tenant(tenant).keys.create(role="reader").secret
    app = create_app(settings)
    app.state.sse_poll = app.state.sse_fallback = NEVER  # only a wake-up delivers in time
    headers = {"authorization": f"Bearer {key}"}

    async def follow(client: httpx.AsyncClient, ready: asyncio.Event, got: list[str]) -> None:
        await _first_alert(client, headers, ready, got)

    async def main(base: str) -> list[list[str]]:
        async with httpx.AsyncClient(base_url=base, timeout=BOUND) as client:
            readies = [asyncio.Event() for _ in range(FOLLOWERS)]
            got: list[list[str]] = [[] for _ in range(FOLLOWERS)]
            streams = [
                asyncio.create_task(follow(client, r, g)) for r, g in zip(readies, got, strict=True)
            ]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), BOUND)
            await asyncio.sleep(0.2)  # each stream read the pending alerts and now waits
            assert len(await asyncio.to_thread(_listening, database_url, ALERTS_CHANNEL)) == 1
            raised = await asyncio.to_thread(sync_ledger.tenant(tenant).alerts.create, 1, "fire")
            await asyncio.wait_for(asyncio.gather(*streams), BOUND)
            assert got == [[str(raised.id)]] * FOLLOWERS
            return got

    with serve(app) as base:
        aio.run(main(base))


def test_a_sync_scope_hears_a_raised_alert_on_a_connection_of_its_own(
    sync_ledger: Ledger,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tenant)
    scope = sync_ledger.tenant(tenant)
    with scope.alert_wakeups() as raised:
        assert raised.wait(0.05) == []
        scope.alerts.create(2, "disk full")
        heard = raised.wait(BOUND)
    assert [n.channel for n in heard] == [ALERTS_CHANNEL]


def test_a_notification_wakes_its_own_tenant_s_subscribers(
    async_ledger: AsyncLedger, aio: asyncio.Runner, database_url: str
) -> None:
    """The payload names the tenant (its id for events, a JSON object for alerts): only that
    tenant's subscribers, and those of every tenant, are woken."""
    wakeups = async_ledger.db.wakeups

    async def main() -> None:
        mine = wakeups.subscribe(EVENTS_CHANNEL, "t-mine")
        theirs = wakeups.subscribe(EVENTS_CHANNEL, "t-theirs")
        everyone = wakeups.subscribe(EVENTS_CHANNEL)
        async with mine, theirs, everyone:
            for payload in ("t-mine", '{"tenant_id": "t-mine", "alert_id": 1}'):
                with psycopg.connect(database_url, autocommit=True) as owner:
                    owner.execute("SELECT pg_notify(%s, %s)", [EVENTS_CHANNEL, payload])
                assert await mine.wait(BOUND) != []
                assert await everyone.wait(BOUND) != []
                assert await theirs.wait(0.2) == []  # set with the others, or not at all
            with psycopg.connect(database_url, autocommit=True) as owner:
                owner.execute("SELECT pg_notify(%s, '')", [EVENTS_CHANNEL])
            for subscriber in (mine, theirs, everyone):  # no tenant named: everyone reads
                assert await subscriber.wait(BOUND) != []

    aio.run(main())


def test_an_alert_stream_delivers_a_new_alert_behind_any_number_of_pending_ones(
    settings: Settings, sync_ledger: Ledger, aio: asyncio.Runner
) -> None:
    """The stream compares every pending alert with those it has seen, in pages: a new
    info alert behind 1,001 older urgent ones (more than one page) is still new."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tenant)
    scope = sync_ledger.tenant(tenant)
    with scope.transaction() as tx:
        for i in range(1001):
            tx.alerts.create(1, f"old {i}")
    key = scope.keys.create(role="reader").secret
    app = create_app(settings)
    app.state.sse_poll = app.state.sse_fallback = NEVER  # the wake-up delivers it

    async def follow(client: httpx.AsyncClient, ready: asyncio.Event, got: list[str]) -> None:
        await _first_alert(client, {"authorization": f"Bearer {key}"}, ready, got)

    async def main(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=BOUND) as client:
            ready, got = asyncio.Event(), list[str]()
            stream = asyncio.create_task(follow(client, ready, got))
            await asyncio.wait_for(ready.wait(), BOUND)
            await asyncio.sleep(0.2)  # the stream read the pending alerts and now waits
            raised = await asyncio.to_thread(scope.alerts.create, 3, "new")
            await asyncio.wait_for(stream, BOUND)
            assert got == [str(raised.id)]

    with serve(app) as base:
        aio.run(main(base))


async def _first_alert(
    client: httpx.AsyncClient, headers: dict[str, str], ready: asyncio.Event, got: list[str]
) -> None:
    """Follow the alert stream: ``ready`` once it follows, then the first alert's id."""
    async with client.stream("GET", "/v1/alerts/stream", headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith(": following"):
                ready.set()
            elif line.startswith("id: "):
                got.append(line.removeprefix("id: "))
                return
