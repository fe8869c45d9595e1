"""Conversation chunks and artifacts on both faces: any size, searchable, versioned."""

from __future__ import annotations

import time
import uuid

import pytest

from agentledger import Conflict, InvalidInput, Ledger, NotFound
from agentledger.sessions import segments

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
]


def _text(chars: int, seed: int = 0) -> str:
    """Prose-like text of about ``chars`` characters, words and line breaks."""
    line = " ".join(WORDS[(seed + i) % len(WORDS)] for i in range(12)) + ".\n"
    return (line * (chars // len(line) + 1))[:chars]


def test_split_joins_back_and_cuts_at_whitespace() -> None:
    text = _text(200_000) + "x" * 70_000 + " tail"
    parts = segments.split(text)
    assert "".join(parts.bodies) == text
    assert parts.starts[0] == 0 and all(
        parts.starts[i] + len(parts.bodies[i]) == parts.starts[i + 1]
        for i in range(len(parts.bodies) - 1)
    )
    assert all(len(b) <= segments.SEGMENT_CHARS for b in parts.bodies)
    assert all(b[-1].isspace() for b in parts.bodies[:5])
    assert (
        parts.overlaps[-1] == "" and parts.overlaps[0] == parts.bodies[1][: len(parts.overlaps[0])]
    )


def test_chunks_are_ordered_and_read_back(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = sessions.create("talk", participants=["ana", "codex"]).id
    first = sessions.add_chunk(sid, "ana: hello\ncodex: hi", author="ana")
    cid = uuid.uuid4()
    second = sessions.add_chunk(
        sid, "We decided to ship.", format="summary", extracted={"decisions": ["ship"]}, id=cid
    )
    assert (first.seq, second.seq) == (1, 2) and second.extracted == {"decisions": ["ship"]}
    assert sessions.add_chunk(sid, "We decided to ship.", format="summary", id=cid) == second
    other = sessions.create("other").id
    with pytest.raises(Conflict):
        sessions.add_chunk(other, "We decided to ship.", id=cid)
    got = sessions.get_chunk(cid)
    assert got.content == "We decided to ship." and got.seq == 2 and got.format == "summary"
    assert [c.seq for c in sessions.list_chunks(sid)] == [1, 2]
    assert [c.seq for c in sessions.list_chunks(sid, after=1)] == [2]
    assert [c.seq for c in sessions.list_chunks(sid, format="summary")] == [2]
    session = sessions.get(sid)
    assert session.chunk_count == 2 and session.last_activity >= first.created_at
    summary = sessions.get_summary(sid)
    assert [c.seq for c in summary.recent_chunks] == [2, 1] and summary.artifacts == []
    types = [e.type for e in ledger.tenant(tenant_id).events.read_stream(f"session:{sid}")]
    assert types == ["SessionCreated", "ChunkAdded", "ChunkAdded"]


def test_a_20_mb_chunk_round_trips_and_its_last_page_is_found(
    sync_ledger: Ledger,
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sessions = sync_ledger.tenant(tid).sessions
    sid = sessions.create("all-hands transcript").id
    body = _text(20 * 1024 * 1024 - 200)
    tail = " the zanzibar quorum pivot was approved unanimously.\n"
    content = body[: len(body) - 20_000] + tail + body[len(body) - 20_000 :] + "é€😀"
    chunk = sessions.add_chunk(sid, content, format="transcript")
    assert chunk.size == len(content) and chunk.segment_count > 600
    assert sessions.get_chunk(chunk.id).content == content  # byte-identical
    hits = sessions.search('"zanzibar quorum pivot"', session_id=sid)
    assert [h.chunk_id for h in hits] == [chunk.id]
    hit = hits[0]
    assert hit.segment >= chunk.segment_count - 2 and hit.offset > 20_000_000
    assert "<mark>zanzibar</mark> <mark>quorum</mark> <mark>pivot</mark>" in hit.snippet


def test_a_phrase_across_a_segment_cut_is_found(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = sessions.create("cut").id
    head = _text(segments.SEGMENT_CHARS - 15)
    content = head + " marmalade " + "astronaut " + _text(40_000, seed=3)
    parts = segments.split(content)
    assert "marmalade" in parts.bodies[0] and "astronaut" in parts.bodies[1]
    chunk = sessions.add_chunk(sid, content, format="transcript")
    hits = sessions.search('"marmalade astronaut"')
    assert [(h.chunk_id, h.segment) for h in hits] == [(chunk.id, 0)]


def test_search_ranks_filters_and_highlights(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    a = sessions.create("a").id
    b = sessions.create("b").id
    sessions.add_chunk(a, "Pricing came up once.", format="dialogue")
    best = sessions.add_chunk(b, "Pricing, pricing and more pricing tiers.", format="summary")
    hits = sessions.search("pricing")
    assert hits[0].chunk_id == best.id and len(hits) == 2 and hits[0].rank >= hits[1].rank
    assert "<mark>" in hits[0].snippet
    assert [h.session_id for h in sessions.search("pricing", session_id=a)] == [a]
    assert [h.format for h in sessions.search("pricing", format="summary")] == ["summary"]
    assert sessions.search("the") == []  # stop words only: nothing, not an error
    with pytest.raises(InvalidInput) as info:
        sessions.search("pricing", format="poem")
    assert info.value.field == "format"


def test_bad_chunks_are_refused_and_nothing_is_written(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = sessions.create("strict").id
    for bad in ("nul \x00 inside", b"\xff\xfe not utf-8", "lone \ud800 surrogate", ""):
        with pytest.raises(InvalidInput) as info:
            sessions.add_chunk(sid, bad)
        assert info.value.field == "content", bad
    assert sessions.add_chunk(sid, "café".encode()).size == 4  # UTF-8 bytes are fine
    with pytest.raises(InvalidInput) as fmt:
        sessions.add_chunk(sid, "x", format="poem")
    assert fmt.value.field == "format"
    with pytest.raises(NotFound) as missing:
        sessions.add_chunk(uuid.uuid4(), "to nowhere")
    assert missing.value.field == "session_id"
    sessions.complete(sid)
    with pytest.raises(Conflict):
        sessions.add_chunk(sid, "too late")
    assert sessions.get(sid).chunk_count == 1


def test_artifacts_are_versioned(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = sessions.create("build").id
    v1 = sessions.save_artifact(
        sid,
        "prd.md",
        "# PRD\nfirst draft",
        artifact_type="prd",
        format="markdown",
        metadata={"by": "ana"},
    )
    aid = uuid.uuid4()
    v2 = sessions.save_artifact(
        sid, "prd.md", "# PRD\nsecond draft", artifact_type="prd", format="markdown", id=aid
    )
    code = sessions.save_artifact(
        sid, "main.py", "print('hi')", artifact_type="code", format="python"
    )
    assert (v1.version, v2.version, code.version) == (1, 2, 1)
    assert (
        sessions.save_artifact(sid, "prd.md", "# PRD\nsecond draft", artifact_type="prd", id=aid)
        == v2
    )
    assert sessions.get_artifact(sid, "prd.md").content == "# PRD\nsecond draft"
    assert sessions.get_artifact(sid, "prd.md", version=1).content == "# PRD\nfirst draft"
    assert [a.version for a in sessions.artifact_versions(sid, "prd.md")] == [2, 1]
    assert [a.name for a in sessions.list_artifacts(sid)] == ["main.py", "prd.md"]
    assert sessions.get(sid).artifact_count == 2
    summary = sessions.get_summary(sid)
    assert {(a.name, a.version) for a in summary.artifacts} == {("main.py", 1), ("prd.md", 2)}
    with pytest.raises(NotFound) as missing:
        sessions.get_artifact(sid, "prd.md", version=9)
    assert missing.value.field == "name"
    with pytest.raises(InvalidInput) as kind:
        sessions.save_artifact(sid, "x", "y", artifact_type="poem")
    assert kind.value.field == "artifact_type"
    hits = sessions.search_artifacts("draft")
    assert [(h.name, h.version) for h in hits] == [("prd.md", 2)]
    every = sessions.search_artifacts("draft", all_versions=True)
    assert sorted(h.version for h in every) == [1, 2]
    assert sessions.search_artifacts("draft", artifact_type="code") == []
    types = [e.type for e in ledger.tenant(tenant_id).events.read_stream(f"session:{sid}")]
    assert types.count("ArtifactSaved") == 3


def test_large_artifacts_read_back_by_segments(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    sid = sessions.create("report").id
    text = _text(300_000, seed=5)
    saved = sessions.save_artifact(sid, "report.md", text, artifact_type="report")
    runs = sessions.artifact_segments(saved.id, start=0, limit=3)
    rest = sessions.artifact_segments(saved.id, start=3)
    assert "".join(runs + rest) == text and len(runs + rest) == saved.segment_count
    chunk = sessions.add_chunk(sid, text)
    assert "".join(sessions.chunk_segments(chunk.id)) == text


def test_session_events_reach_followers(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    sid = scope.sessions.create("watched").id
    scope.sessions.add_chunk(sid, "a line")
    scope.sessions.save_artifact(sid, "n", "x", artifact_type="document")
    scope.sessions.pause(sid)
    seen = [e for e in scope.events.read_all(0) if e.stream == f"session:{sid}"]
    assert [e.type for e in seen] == [
        "SessionCreated",
        "ChunkAdded",
        "ArtifactSaved",
        "SessionStatusChanged",
    ]
    assert seen[1].payload["seq"] == 1 and seen[3].payload["status"] == "paused"


def test_a_follower_sees_session_events(sync_ledger: Ledger) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    scope = sync_ledger.tenant(tid)
    with scope.follow(after=0, poll_interval=0.05) as follower:
        sid = scope.sessions.create("followed").id
        scope.sessions.add_chunk(sid, "hello")
        seen: list[str] = []
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            seen += [e.type for e in follower.next_batch(0.5) if e.stream == f"session:{sid}"]
    assert seen == ["SessionCreated", "ChunkAdded"]
