"""The event log at its edges: names that must stay on one line, expectations of streams a
batch does not touch, checkpoints that name no event, and streams named like paths."""

from __future__ import annotations

import threading
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from agentledger import InvalidInput, Ledger, NewEvent
from agentledger.api.pagination import encode_cursor


@pytest.mark.parametrize("bad", ["Evil\nid: 999", "a\rb", "tab\there", "nel\x85", "ls\u2028"])
@pytest.mark.parametrize("field", ["stream", "type"])
def test_a_name_with_a_line_break_or_control_character_is_refused(
    ledger: Ledger, tenant_id: str, field: str, bad: str
) -> None:
    """A type or a stream goes out on one line (an SSE ``event:`` line, a NATS header)."""
    events = ledger.tenant(tenant_id).events
    fields = {"stream": "s", "type": "T", field: bad}
    with pytest.raises(InvalidInput) as refused:
        events.append(fields["stream"], fields["type"], {})
    assert refused.value.field == field
    assert "control character" in str(refused.value)
    assert events.read_all(0) == []


def test_a_forged_type_cannot_add_lines_to_the_event_stream(writer: httpx.Client) -> None:
    forged = 'Evil\nid: 999999\ndata: {"forged": true}\n\nevent: Forged'
    answer = writer.post("/v1/events", json={"stream": "s", "type": forged, "payload": {}})
    assert answer.status_code == 422 and answer.json()["field"] == "type"


def test_an_expected_version_of_a_stream_the_batch_does_not_touch_is_refused(
    ledger: Ledger, tenant_id: str
) -> None:
    """It was ignored: a guard on another stream never fired."""
    events = ledger.tenant(tenant_id).events
    events.append_many([NewEvent(stream="guard", type="T"), NewEvent(stream="guard", type="T")])
    for size in (1, 2):
        batch = [NewEvent(stream="w", type="T") for _ in range(size)]
        with pytest.raises(InvalidInput) as refused:
            events.append_many(batch, expected_versions={"guard": 0})
        assert refused.value.field == "expected_versions"
        assert "'guard'" in str(refused.value)
    assert events.stream_version("w") == 0
    written = events.append_many([NewEvent(stream="w", type="T")], expected_versions={"w": 0})
    assert [a.version for a in written] == [1]


def test_a_checkpoint_names_an_event_of_the_tenant_or_zero(ledger: Ledger, tenant_id: str) -> None:
    """A follower could never resume from any other position."""
    ours, theirs = ledger.tenant(tenant_id).events, ledger.tenant(_other(ledger)).events
    foreign = theirs.append("s", "T", {}).position
    mine = ours.append("s", "T", {}).position
    for position in (foreign, 10**12):
        with pytest.raises(InvalidInput) as refused:
            ours.save_checkpoint("projector", position)
        assert refused.value.field == "position"
        assert ours.checkpoint("projector") == 0
    ours.save_checkpoint("projector", mine)
    assert ours.checkpoint("projector") == mine
    ours.save_checkpoint("projector", 0)
    assert ours.checkpoint("projector") == 0


def test_a_forged_events_cursor_is_422_naming_the_cursor(writer: httpx.Client) -> None:
    answer = writer.get("/v1/events", params={"cursor": encode_cursor({"after": 10**12})})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "cursor"


@pytest.mark.parametrize("stream", ["orders/7", "a/b/c", "x/version", "y/events"])
def test_a_stream_named_like_a_path_reads_back_over_http(writer: httpx.Client, stream: str) -> None:
    stream = f"{stream}-{uuid.uuid4().hex[:6]}"
    posted = writer.post("/v1/events", json={"stream": stream, "type": "T", "payload": {}})
    assert posted.status_code == 201, posted.text
    path = quote(stream, safe="")
    read: Any = writer.get(f"/v1/streams/{path}/events")
    assert read.status_code == 200, read.text
    assert [e["stream"] for e in read.json()] == [stream]
    version = writer.get(f"/v1/streams/{path}/version")
    assert version.status_code == 200 and version.json() == {"version": 1}


def _other(ledger: Ledger) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tid)
    return tid


def test_the_feed_gives_each_streams_events_in_version_order(sync_ledger: Ledger) -> None:
    """Appends racing for one stream, each its own transaction, on connections of their own:
    an append that waited for the stream is ordered past the one it waited for."""
    scope = sync_ledger.tenant(_other(sync_ledger))
    streams = ["a", "b"]

    def write(n: int) -> None:
        for i in range(150):
            if i % 5 == 4:
                batch = [NewEvent(stream=streams[n % 2], type="T") for _ in range(3)]
                scope.events.append_many(batch)
            else:
                scope.events.append(streams[(n + i) % 2], "T", {"i": i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen: dict[str, list[int]] = {s: [] for s in streams}
    after = 0
    while page := scope.events.read_all(after, limit=1000):
        for event in page:
            seen[event.stream].append(event.version)
        after = page[-1].position
    for stream, versions in seen.items():
        assert versions == list(range(1, len(versions) + 1)), stream
    assert sum(len(v) for v in seen.values()) == 4 * (120 + 30 * 3)
