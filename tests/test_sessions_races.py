"""Sessions under real concurrency: a session deleted while its content streams over HTTP,
and while memories are written into it."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from agentledger import Ledger, NotFound, Settings
from agentledger.api.routes.sessions import STREAM_BATCH, StreamCutShort, text_stream
from agentledger.sessions.segments import SEGMENT_CHARS
from tests.http_server import client

# Well beyond what the sockets between server and client buffer (a few MB), so the server
# still has batches to read when the session goes.
BIG = " ".join(f"w{i}" for i in range(1_500_000))


def test_a_stream_whose_batch_comes_back_short_breaks_off() -> None:
    async def short(start: int) -> list[str]:
        return ["x"] * (STREAM_BATCH if start == 0 else 3)

    async def drain() -> int:
        got = 0
        async for part in text_stream(short, STREAM_BATCH * 3).body_iterator:
            got += len(part)
        return got

    with pytest.raises(StreamCutShort, match=f"{STREAM_BATCH + 3} of {STREAM_BATCH * 3}"):
        asyncio.run(drain())


@pytest.mark.parametrize("what", ["chunk", "artifact"])
def test_content_streamed_while_the_session_is_deleted_never_reads_as_complete(
    what: str, base: str, tenants: Any, sync_ledger: Ledger
) -> None:
    assert len(BIG) > 4 * STREAM_BATCH * SEGMENT_CHARS
    sessions = sync_ledger.tenant(tenants[0]["id"]).sessions
    s = sessions.create("big")
    if what == "chunk":
        c = sessions.add_chunk(s.id, BIG)
        path = f"/v1/sessions/{s.id}/chunks/{c.id}/content"
    else:
        sessions.save_artifact(s.id, "big.txt", BIG, artifact_type="document")
        path = f"/v1/sessions/{s.id}/artifacts/big.txt/content"
    received = 0
    with (
        client(base, tenants[0]["keys"]["reader"]) as reader,
        pytest.raises(httpx.RemoteProtocolError),
        reader.stream("GET", path) as resp,
    ):
        assert resp.status_code == 200
        parts = resp.iter_bytes(65536)
        received = len(next(parts))
        assert sessions.delete(s.id)  # another connection, mid-stream
        for part in parts:
            received += len(part)
    assert 0 < received < len(BIG)


def _writer(
    settings: Settings,
    tenant: str,
    session_id: uuid.UUID,
    tag: str,
    stop: threading.Event,
    wrote: threading.Event,
) -> tuple[list[uuid.UUID], list[Exception]]:
    written: list[uuid.UUID] = []
    errors: list[Exception] = []
    with Ledger(settings, migrate=False) as own:
        memory = own.tenant(tenant).memory
        deadline = time.monotonic() + 10
        n = 0
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                e = memory.upsert("note", f"{tag}-{n}", key=f"{tag}-{n}", session_id=session_id)
            except NotFound as exc:
                assert exc.field == "session_id"
                break
            except Exception as exc:  # what the test reports
                errors.append(exc)
            else:
                written.append(e.id)
                wrote.set()
            n += 1
    return written, errors


def test_delete_with_memories_races_memory_writers(
    ledger: Ledger, tenant_id: str, settings: Settings
) -> None:
    scope = ledger.tenant(tenant_id)
    for round_ in range(4):
        s = scope.sessions.create(f"s{round_}")
        stop, wrote = threading.Event(), threading.Event()
        results: list[tuple[list[uuid.UUID], list[Exception]]] = []

        def run(
            tag: str, into: list[Any], stop: threading.Event, wrote: threading.Event, sid: uuid.UUID
        ) -> None:
            into.append(_writer(settings, tenant_id, sid, tag, stop, wrote))

        threads = [
            threading.Thread(target=run, args=(f"r{round_}w{w}", results, stop, wrote, s.id))
            for w in range(3)
        ]
        for t in threads:
            t.start()
        assert wrote.wait(30)  # the writers are writing into the session
        try:
            assert scope.sessions.delete(s.id, memories=True)
        finally:
            time.sleep(0.2)  # writers that queued behind the delete meet its outcome
            stop.set()
            for t in threads:
                t.join()
        errors = [e for _, errs in results for e in errs]
        assert not errors, errors
        written = [i for ids, _ in results for i in ids]
        assert written  # the writers did race the delete
        for entity_id in written:
            with pytest.raises(NotFound):
                scope.memory.get(entity_id)
