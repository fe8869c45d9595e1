"""Sessions through HTTP: behaviour, roles, problem+json errors and tenant isolation."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx


def _session(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    created = client.post("/v1/sessions", json={"title": "Launch", **extra})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_session_lifecycle_and_listing(writer: httpx.Client, reader: httpx.Client) -> None:
    sid = str(uuid.uuid4())
    made = _session(writer, id=sid, participants=["ana", "codex"])
    assert made["id"] == sid and made["status"] == "active" and made["chunk_count"] == 0
    assert _session(writer, id=sid, participants=["ana", "codex"]) == made  # idempotent
    paused = writer.post(f"/v1/sessions/{sid}/transition", json={"action": "pause"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    illegal = writer.post(f"/v1/sessions/{sid}/transition", json={"action": "archive"})
    assert illegal.status_code == 409
    assert illegal.headers["content-type"] == "application/problem+json"
    assert "archive" in illegal.json()["detail"] and "paused" in illegal.json()["detail"]
    unknown = writer.post(f"/v1/sessions/{sid}/transition", json={"action": "explode"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "action"
    assert reader.get(f"/v1/sessions/{sid}").json()["status"] == "paused"
    patched = writer.patch(f"/v1/sessions/{sid}", json={"summary": "Ship Monday"})
    assert patched.status_code == 200 and patched.json()["summary"] == "Ship Monday"
    assert patched.json()["participants"] == ["ana", "codex"]
    assert reader.patch(f"/v1/sessions/{sid}", json={"summary": "x"}).status_code == 403
    for _ in range(3):
        _session(writer, participants=["zed"])
    page = reader.get("/v1/sessions", params={"participant": "zed", "limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = reader.get(
        "/v1/sessions", params={"participant": "zed", "limit": 2, "cursor": page["next_cursor"]}
    ).json()
    ids = [s["id"] for s in page["items"] + rest["items"]]
    assert len(ids) == 3 == len(set(ids))
    bad = reader.get("/v1/sessions", params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"
    # A time no UTC clock shows is no position this API issued either.
    raw = json.dumps({"at": "9999-12-31T23:59:59-14:00", "id": sid}).encode()
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    far = reader.get("/v1/sessions", params={"cursor": forged})
    assert far.status_code == 422 and far.json()["field"] == "cursor"
    assert reader.get("/v1/sessions", params={"status": "sleeping"}).status_code == 422
    paused_only = reader.get("/v1/sessions", params={"status": "paused"}).json()["items"]
    assert sid in {s["id"] for s in paused_only}


def test_chunks_search_and_content(writer: httpx.Client, reader: httpx.Client) -> None:
    sid = _session(writer)["id"]
    first = writer.post(
        f"/v1/sessions/{sid}/chunks",
        json={"content": "ana: the heliotrope budget is approved", "author": "ana"},
    )
    assert first.status_code == 201 and first.json()["seq"] == 1
    second = writer.post(
        f"/v1/sessions/{sid}/chunks",
        json={"content": "Summary: budget fine.", "format": "summary", "extracted": ["x"]},
    ).json()
    assert second["seq"] == 2 and second["extracted"] == ["x"]
    listed = reader.get(f"/v1/sessions/{sid}/chunks", params={"limit": 1}).json()
    assert [c["seq"] for c in listed["items"]] == [1]
    more = reader.get(
        f"/v1/sessions/{sid}/chunks", params={"limit": 1, "cursor": listed["next_cursor"]}
    ).json()
    assert [c["seq"] for c in more["items"]] == [2]
    chunk_id = first.json()["id"]
    got = reader.get(f"/v1/sessions/{sid}/chunks/{chunk_id}").json()
    assert got["content"] == "ana: the heliotrope budget is approved"
    streamed = reader.get(f"/v1/sessions/{sid}/chunks/{chunk_id}/content")
    assert streamed.status_code == 200 and streamed.text == got["content"]
    hits = reader.get("/v1/sessions/search", params={"q": "heliotrope"}).json()
    assert [h["chunk_id"] for h in hits] == [chunk_id]
    assert "<mark>heliotrope</mark>" in hits[0]["snippet"]
    summary = reader.get(f"/v1/sessions/{sid}/summary").json()
    assert summary["session"]["chunk_count"] == 2 and len(summary["recent_chunks"]) == 2


def test_artifacts_versions_and_streamed_content(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    sid = _session(writer)["id"]
    big = "word " * 100_000  # 500 kB: many segments
    for text in ("# draft one", big):
        saved = writer.post(
            f"/v1/sessions/{sid}/artifacts",
            json={"name": "prd.md", "content": text, "artifact_type": "prd", "format": "markdown"},
        )
        assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 2 and saved.json()["segment_count"] > 10
    latest = reader.get(f"/v1/sessions/{sid}/artifacts/prd.md").json()
    assert latest["version"] == 2
    versions = reader.get(f"/v1/sessions/{sid}/artifacts/prd.md/versions").json()
    assert [a["version"] for a in versions] == [2, 1]
    content = reader.get(f"/v1/sessions/{sid}/artifacts/prd.md/content")
    assert content.status_code == 200 and content.text == big
    assert content.headers["content-type"].startswith("text/plain")
    old = reader.get(f"/v1/sessions/{sid}/artifacts/prd.md/content", params={"version": 1})
    assert old.text == "# draft one"
    assert [a["name"] for a in reader.get(f"/v1/sessions/{sid}/artifacts").json()] == ["prd.md"]
    hits = reader.get(
        "/v1/sessions/artifacts/search", params={"q": "draft", "all_versions": "true"}
    ).json()
    assert [(h["name"], h["version"]) for h in hits] == [("prd.md", 1)]
    missing = reader.get(f"/v1/sessions/{sid}/artifacts/nope.md")
    assert missing.status_code == 404 and missing.json()["field"] == "name"


def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    sid = _session(writer)["id"]
    nul = writer.post(f"/v1/sessions/{sid}/chunks", json={"content": "a\u0000b"})
    assert nul.status_code == 422 and nul.json()["field"] == "content"
    surrogate = writer.post(
        f"/v1/sessions/{sid}/chunks",
        content=b'{"content": "bad \\ud800 text"}',
        headers={"content-type": "application/json"},
    )
    assert surrogate.status_code == 422 and surrogate.json()["field"] == "content"
    raw = writer.post(
        f"/v1/sessions/{sid}/chunks",
        content=b'{"content": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert raw.status_code in (400, 422)
    assert (
        writer.post(
            f"/v1/sessions/{sid}/chunks", json={"content": "x", "format": "poem"}
        ).status_code
        == 422
    )
    huge = writer.post(f"/v1/sessions/{sid}/chunks", json={"content": "x" * 3_000_000})
    assert huge.status_code == 413
    missing = writer.post(f"/v1/sessions/{uuid.uuid4()}/chunks", json={"content": "hello"})
    assert missing.status_code == 404 and missing.json()["field"] == "session_id"
    assert reader.get(f"/v1/sessions/{sid}").json()["chunk_count"] == 0


def test_roles_and_tenant_isolation(
    writer: httpx.Client, reader: httpx.Client, admin: httpx.Client, intruder: httpx.Client
) -> None:
    sid = _session(writer)["id"]
    chunk = writer.post(f"/v1/sessions/{sid}/chunks", json={"content": "quasar secret"}).json()
    writer.post(
        f"/v1/sessions/{sid}/artifacts",
        json={"name": "plan", "content": "quasar plan", "artifact_type": "document"},
    )
    assert reader.post("/v1/sessions", json={"title": "nope"}).status_code == 403
    assert reader.post(f"/v1/sessions/{sid}/chunks", json={"content": "x"}).status_code == 403
    assert writer.post("/v1/sessions/purge", json={"older_than_days": 1}).status_code == 403
    assert admin.post("/v1/sessions/purge", json={"older_than_days": 1}).json() == {"deleted": 0}
    for path in (
        f"/v1/sessions/{sid}",
        f"/v1/sessions/{sid}/summary",
        f"/v1/sessions/{sid}/chunks",
        f"/v1/sessions/{sid}/chunks/{chunk['id']}",
        f"/v1/sessions/{sid}/chunks/{chunk['id']}/content",
        f"/v1/sessions/{sid}/artifacts",
        f"/v1/sessions/{sid}/artifacts/plan",
        f"/v1/sessions/{sid}/artifacts/plan/content",
    ):
        assert intruder.get(path).status_code == 404, path
    assert intruder.post(f"/v1/sessions/{sid}/chunks", json={"content": "x"}).status_code == 404
    moved = intruder.post(f"/v1/sessions/{sid}/transition", json={"action": "pause"})
    assert moved.status_code == 404
    assert intruder.delete(f"/v1/sessions/{sid}").status_code == 404
    assert intruder.patch(f"/v1/sessions/{sid}", json={"title": "mine"}).status_code == 404
    assert intruder.get("/v1/sessions/search", params={"q": "quasar"}).json() == []
    assert intruder.get("/v1/sessions/artifacts/search", params={"q": "quasar"}).json() == []
    assert writer.delete(f"/v1/sessions/{sid}").status_code == 204
    assert reader.get(f"/v1/sessions/{sid}").status_code == 404


def test_a_sessions_language_over_http(
    writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    made = _session(writer, language="german")
    assert made["language"] == "german"
    sid = made["id"]
    writer.post(f"/v1/sessions/{sid}/chunks", json={"content": "Zwei alte Häuser am See."})
    hits = reader.get("/v1/sessions/search", params={"q": "Haus", "session_id": sid}).json()
    assert len(hits) == 1 and "<mark>Häuser</mark>" in hits[0]["snippet"]
    status = reader.get(f"/v1/sessions/{sid}/language").json()
    assert status == {"language": "german", "pending": 0, "batches": 0}
    bad = writer.post("/v1/sessions", json={"title": "x", "language": "klingon"})
    assert bad.status_code == 422 and bad.json()["field"] == "language"
    unknown = writer.put(f"/v1/sessions/{sid}/language", json={"language": "klingon"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "language"
    assert reader.put(f"/v1/sessions/{sid}/language", json={"language": None}).status_code == 403
    path = f"/v1/sessions/{sid}/language"
    assert intruder.get(path).status_code == 404
    assert intruder.put(path, json={"language": "spanish"}).status_code == 404
    missing = f"/v1/sessions/{uuid.uuid4()}/language"
    assert writer.put(missing, json={"language": "german"}).status_code == 404
    cleared = writer.put(path, json={"language": None})
    assert cleared.status_code == 200 and cleared.json()["language"] == "english"
    assert cleared.json()["pending"] == 1 and cleared.json()["batches"] >= 1
    assert reader.get(f"/v1/sessions/{sid}").json()["language"] is None


def test_sessions_are_in_the_openapi_document(reader: httpx.Client) -> None:
    paths = reader.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/sessions",
        "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/transition",
        "/v1/sessions/{session_id}/chunks",
        "/v1/sessions/search",
        "/v1/sessions/{session_id}/artifacts",
        "/v1/sessions/{session_id}/artifacts/{name}/content",
    ):
        assert path in paths, path
