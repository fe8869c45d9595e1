"""JetStream for the tests: the machine's NATS server, a skip saying why when it is not
reachable, and streams of one test's own."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

NATS_HOST = os.environ.get("AGENTLEDGER_TEST_NATS_HOST", "127.0.0.1")
NATS_PORT = int(os.environ.get("AGENTLEDGER_TEST_NATS_PORT", "4222"))
NATS_URL = f"nats://{NATS_HOST}:{NATS_PORT}"


async def _jetstream_reachable() -> str | None:
    """None when JetStream answers at NATS_URL, else why not."""
    import nats

    async def quiet(exc: Exception) -> None:
        """The client reports each failed attempt; the skip reason says it once."""

    try:
        # One attempt: without max_reconnect_attempts the client retries a refused
        # connection for ever, even with allow_reconnect off.
        nc = await asyncio.wait_for(
            nats.connect(
                NATS_URL,
                connect_timeout=2,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=quiet,
            ),
            10,
        )
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        await nc.jetstream().account_info()
    except Exception as exc:
        return f"JetStream: {type(exc).__name__}: {exc}"
    finally:
        await nc.close()
    return None


@pytest.fixture(scope="module")
def jetstream(aio: asyncio.Runner) -> str:
    """NATS_URL, once JetStream answers there (else the test is skipped, saying why)."""
    pytest.importorskip("nats", reason="the nats extra (nats-py) is not installed")
    why = aio.run(_jetstream_reachable())
    if why is not None:
        pytest.skip(f"NATS JetStream not reachable at {NATS_URL} ({why})")
    return NATS_URL


@pytest.fixture
def stream_name(aio: asyncio.Runner, jetstream: str) -> Iterator[str]:
    """A JetStream stream name of this test alone, deleted afterwards."""
    name = f"AL_TEST_{uuid.uuid4().hex[:12].upper()}"
    yield name

    async def delete() -> None:
        import nats

        nc = await nats.connect(jetstream, allow_reconnect=False)
        try:
            await nc.jetstream().delete_stream(name)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    aio.run(delete())
