"""Each API key may hold a bounded number of server-sent event streams open on a server
(events and alerts together); past it the next is answered 429, another key keeps its own
room, and closing a stream makes room again."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import AsyncExitStack, aclosing
from typing import cast

import httpx
import pytest
from fastapi import HTTPException

from agentledger import Ledger, Settings
from agentledger.api import create_app
from agentledger.api.streams import OpenStreams, event_stream, until
from tests.http_server import serve

LIMIT = 2
BOUND = 60.0  # how long a stream may take to open, or room to come back, before failing


async def _open(
    stack: AsyncExitStack, client: httpx.AsyncClient, path: str, key: str
) -> httpx.Response:
    """A stream held open by ``stack``; its first line read when it was accepted."""
    response = await stack.enter_async_context(
        client.stream("GET", path, headers={"authorization": f"Bearer {key}"})
    )
    if response.status_code == 200:
        # The reader stays with the stack: dropping it would close the stream.
        lines = await stack.enter_async_context(
            aclosing(cast(AsyncGenerator[str, None], response.aiter_lines()))
        )
        first = await asyncio.wait_for(anext(lines), BOUND)
        assert first.startswith(": following")
    else:
        await response.aread()
    return response


def test_a_key_holds_a_bounded_number_of_streams(
    settings: Settings, sync_ledger: Ledger, aio: asyncio.Runner
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tenant)
    keys = sync_ledger.tenant(tenant).keys
    mine, other = (keys.create(role="reader").secret for _ in range(2))

    async def main(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=BOUND) as client:
            held = AsyncExitStack()
            async with held:
                for path in ("/v1/events/stream", "/v1/alerts/stream"):
                    assert (await _open(held, client, path, mine)).status_code == 200
                # Both counted; each channel's connection opens as its stream starts to wait.
                deadline = time.monotonic() + BOUND
                while "agentledger_wakeup_connections 2.0" not in (
                    metrics := (await client.get("/metrics")).text
                ):
                    assert time.monotonic() < deadline, metrics[-300:]
                    await asyncio.sleep(0.05)
                assert "agentledger_open_streams 2.0" in metrics
                async with AsyncExitStack() as refused:
                    for path in ("/v1/events/stream", "/v1/alerts/stream"):
                        answer = await _open(refused, client, path, mine)
                        assert answer.status_code == 429
                        assert answer.headers["content-type"] == "application/problem+json"
                        assert "streams open" in answer.json()["detail"]
                        # As every 429: the rate-limited problem, with Retry-After.
                        assert answer.json()["type"].endswith("/problems/rate-limited")
                        assert answer.headers["retry-after"] == "1"
                async with AsyncExitStack() as theirs:
                    answer = await _open(theirs, client, "/v1/events/stream", other)
                    assert answer.status_code == 200
            # Both of mine closed: room again, once the server has seen them go.
            deadline = time.monotonic() + BOUND
            while True:
                async with AsyncExitStack() as again:
                    answer = await _open(again, client, "/v1/events/stream", mine)
                    if answer.status_code == 200:
                        break
                assert time.monotonic() < deadline, "the closed streams never made room"
                await asyncio.sleep(0.1)

    with serve(create_app(settings.with_(max_streams_per_key=LIMIT))) as base:
        aio.run(main(base))


def test_a_stopping_server_ends_its_streams_and_refuses_new_ones(aio: asyncio.Runner) -> None:
    async def run() -> None:
        streams = OpenStreams(LIMIT)

        async def forever() -> AsyncIterator[str]:
            yield ": open\n\n"
            await asyncio.Event().wait()  # a stream that never ends by itself
            yield "never"

        async def yes() -> bool:
            return True

        body = aiter(event_stream(streams, "k", forever(), allowed=yes).body_iterator)
        assert await anext(body) == ": open\n\n"
        assert streams.holding("k") == 1
        rest = asyncio.ensure_future(anext(body))
        await asyncio.sleep(0.05)
        streams.close_all()
        with contextlib.suppress(StopAsyncIteration):
            await asyncio.wait_for(rest, BOUND)
        assert streams.holding("k") == 0
        with pytest.raises(HTTPException) as refused:
            streams.hold("k")
        assert refused.value.status_code == 503

    aio.run(run())


def test_a_streams_body_ends_with_its_error_and_is_closed_when_cut(aio: asyncio.Runner) -> None:
    async def run() -> None:
        async def yes() -> bool:
            return True

        async def failing() -> AsyncIterator[str]:
            yield "a"
            yield "b"
            raise RuntimeError("the body failed")

        got: list[str] = []
        with pytest.raises(RuntimeError, match="the body failed"):
            async for chunk in until(asyncio.Event(), failing(), yes):
                got.append(chunk)
        assert got == ["a", "b"]

        closed = asyncio.Event()

        async def waiting() -> AsyncIterator[str]:
            try:
                yield "first"
                await asyncio.Event().wait()
                yield "never"
            finally:
                closed.set()

        stop = asyncio.Event()
        reader = until(stop, waiting(), yes)
        assert await anext(reader) == "first"
        later = asyncio.ensure_future(anext(reader, "ended"))
        await asyncio.sleep(0.05)
        stop.set()
        assert await asyncio.wait_for(later, BOUND) == "ended"
        assert closed.is_set()

    aio.run(run())


def test_revoking_a_key_ends_its_open_streams(settings: Settings, sync_ledger: Ledger) -> None:
    """A revoked key stops working within the key cache's time, open streams included:
    each ends (and its next attempt is refused) while the other key's stream goes on."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tenant)
    keys = sync_ledger.tenant(tenant).keys
    revoked, kept = keys.create(role="reader"), keys.create(role="reader")
    with (
        serve(create_app(settings)) as base,
        httpx.Client(base_url=base, timeout=BOUND) as http,
        contextlib.ExitStack() as stack,
    ):
        streams: dict[tuple[str, str], Iterator[str]] = {}
        for name, key in (("revoked", revoked.secret), ("kept", kept.secret)):
            for path in ("/v1/events/stream", "/v1/alerts/stream"):
                response = stack.enter_context(
                    http.stream("GET", path, headers={"authorization": f"Bearer {key}"})
                )
                assert response.status_code == 200
                streams[name, path] = response.iter_lines()
                assert next(streams[name, path]).startswith(": following")
        keys.revoke(revoked.key.id)
        deadline = time.monotonic() + BOUND
        for path in ("/v1/events/stream", "/v1/alerts/stream"):
            for _line in streams["revoked", path]:  # keep-alives until it ends
                assert time.monotonic() < deadline, f"{path} outlived its revoked key"
        refused = http.get(
            "/v1/events/stream", headers={"authorization": f"Bearer {revoked.secret}"}
        )
        assert refused.status_code == 401
        sync_ledger.tenant(tenant).events.append("s", "StillFollowed", {})
        following = streams["kept", "/v1/events/stream"]
        assert next(line for line in following if line.startswith("event:")) == (
            "event: StillFollowed"
        )


def test_archiving_a_tenant_ends_its_open_streams_cleanly(
    settings: Settings, sync_ledger: Ledger
) -> None:
    """The next read of an archived tenant's stream is refused: the answer, begun as 200,
    ends (whole, not cut), and the reconnect is the 403 that says why."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tenant)
    auth = {
        "authorization": f"Bearer {sync_ledger.tenant(tenant).keys.create(role='reader').secret}"
    }
    with (
        serve(create_app(settings)) as base,
        httpx.Client(base_url=base, timeout=BOUND) as http,
        contextlib.ExitStack() as stack,
    ):
        streams = []
        for path in ("/v1/events/stream", "/v1/alerts/stream"):
            response = stack.enter_context(http.stream("GET", path, headers=auth))
            streams.append(response.iter_lines())
            assert next(streams[-1]).startswith(": following")
        # What the stream cannot serve is its status, before it begins: a position that is
        # not in the log is 404 (it used to answer 200 and then break off).
        missing = http.get("/v1/events/stream", params={"after": 10**9}, headers=auth)
        assert missing.status_code == 404 and missing.json()["field"] == "after"
        sync_ledger.tenants.archive(tenant)
        deadline = time.monotonic() + BOUND
        for lines in streams:  # httpx raises on an answer cut short
            for _line in lines:
                assert time.monotonic() < deadline, "a stream outlived its tenant"
        refused = http.get("/v1/events/stream", headers=auth)
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/tenant-inactive")
