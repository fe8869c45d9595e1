"""Events, decisions, runs and alerts through HTTP: behaviour, roles, isolation, SSE."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx


def test_event_append_is_idempotent_and_versioned(writer: httpx.Client) -> None:
    stream = f"case:{uuid.uuid4().hex[:8]}"
    eid = str(uuid.uuid4())
    first = writer.post("/v1/events", json={"stream": stream, "type": "Opened", "event_id": eid})
    assert first.status_code == 201 and first.json()["already_appended"] is False
    again = writer.post("/v1/events", json={"stream": stream, "type": "Opened", "event_id": eid})
    assert again.json()["already_appended"] is True
    assert again.json()["position"] == first.json()["position"]
    conflict = writer.post(
        "/v1/events", json={"stream": stream, "type": "X", "expected_version": 5}
    )
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    batch = writer.post(
        "/v1/events/batch",
        json={
            "events": [{"stream": stream, "type": "Step", "payload": {"n": n}} for n in range(3)]
        },
    )
    assert [a["version"] for a in batch.json()] == [2, 3, 4]
    events = writer.get(f"/v1/streams/{stream}/events").json()
    assert [e["type"] for e in events] == ["Opened", "Step", "Step", "Step"]


def test_read_all_pages_with_a_cursor(writer: httpx.Client) -> None:
    stream = f"page:{uuid.uuid4().hex[:8]}"
    writer.post(
        "/v1/events/batch",
        json={
            "events": [{"stream": stream, "type": "Tick", "payload": {"n": n}} for n in range(5)]
        },
    )
    seen, cursor = [], None
    for _ in range(100):
        page = writer.get(
            "/v1/events",
            params={"types": "Tick", "limit": 2, **({"cursor": cursor} if cursor else {})},
        ).json()
        if not page["items"]:
            break
        seen += [e["payload"]["n"] for e in page["items"] if e["stream"] == stream]
        cursor = page["next_cursor"]
    assert seen == [0, 1, 2, 3, 4]


def test_sse_follows_and_resumes_from_last_event_id(
    writer: httpx.Client, base: str, tenants: Any
) -> None:
    stream = f"sse:{uuid.uuid4().hex[:8]}"
    got: list[dict[str, str]] = []

    def listen(headers: dict[str, str], want: int) -> None:
        with (
            httpx.Client(base_url=base, timeout=20) as c,
            c.stream(
                "GET",
                "/v1/events/stream",
                params={"types": "Beep"},
                headers={"Authorization": f"Bearer {tenants[0]['keys']['reader']}", **headers},
            ) as response,
        ):
            current: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    key, _, value = line.partition(": ")
                    current[key.rstrip(":")] = value
                elif not line and "data" in current:
                    if json.loads(current["data"])["stream"] == stream:
                        got.append(current)
                    current = {}
                    if len(got) >= want:
                        return

    start = writer.post("/v1/events", json={"stream": stream, "type": "Start"}).json()
    t = threading.Thread(target=listen, args=({"Last-Event-ID": str(start["position"])}, 3))
    t.start()
    for n in range(3):
        writer.post("/v1/events", json={"stream": stream, "type": "Beep", "payload": {"n": n}})
    t.join(timeout=30)
    assert [json.loads(g["data"])["payload"]["n"] for g in got] == [0, 1, 2]
    # a reconnect that saw the first two resumes with the third
    resume_after = got[1]["id"]
    got.clear()
    listen({"Last-Event-ID": resume_after}, 1)
    assert [json.loads(g["data"])["payload"]["n"] for g in got] == [2]


def test_decisions_feedback_rules(writer: httpx.Client, reader: httpx.Client) -> None:
    d = writer.post(
        "/v1/decisions",
        json={"decision": "Escalate", "decision_type": "escalation", "confidence": 0.8},
    ).json()
    assert (
        reader.post(f"/v1/decisions/{d['id']}/feedback", json={"accepted": True}).status_code == 403
    )
    ok = writer.post(f"/v1/decisions/{d['id']}/feedback", json={"accepted": True, "by": "ceo"})
    assert ok.status_code == 200 and ok.json()["accepted"] is True
    same = writer.post(f"/v1/decisions/{d['id']}/feedback", json={"accepted": True, "by": "ceo"})
    assert same.status_code == 200
    other = writer.post(f"/v1/decisions/{d['id']}/feedback", json={"accepted": False})
    assert other.status_code == 409
    stats = reader.get("/v1/decisions/stats").json()
    assert any(s["decision_type"] == "escalation" and s["accepted"] >= 1 for s in stats)
    bad = writer.post(
        "/v1/decisions", json={"decision": "x", "decision_type": "t", "confidence": 3}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "confidence"


def test_runs_start_finish_and_stats(writer: httpx.Client) -> None:
    run = writer.post("/v1/runs", json={"trigger_type": "email", "content": "hi"}).json()
    done = writer.post(f"/v1/runs/{run['id']}/finish", json={"tokens_in": 10, "tokens_out": 5})
    assert done.json()["status"] == "succeeded"
    again = writer.post(f"/v1/runs/{run['id']}/finish", json={})
    assert again.status_code == 409
    stats = writer.get("/v1/runs/stats", params={"trigger_type": "email"}).json()
    assert stats and stats[0]["tokens_in"] >= 10
    listed = writer.get("/v1/runs", params={"limit": 1}).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]


def test_alert_lifecycle_and_dedup(writer: httpx.Client) -> None:
    key = uuid.uuid4().hex
    a = writer.post("/v1/alerts", json={"tier": 1, "title": "Down", "dedup_key": key}).json()
    b = writer.post("/v1/alerts", json={"tier": 1, "title": "Down", "dedup_key": key}).json()
    assert a["id"] == b["id"] and b["occurrences"] == 2
    response = writer.get("/v1/alerts/pending", params={"tier": "1"})
    assert response.status_code == 200, response.text
    pending = response.json()
    assert a["id"] in [p["id"] for p in pending]
    assert (
        writer.post(f"/v1/alerts/{a['id']}/acknowledge", json={"by": "me"}).json()["status"]
        == "acknowledged"
    )
    assert writer.post(f"/v1/alerts/{a['id']}/resolve").json()["status"] == "resolved"
    assert writer.post(f"/v1/alerts/{a['id']}/acknowledge").status_code == 409
    assert writer.post("/v1/alerts", json={"tier": 7, "title": "x"}).status_code == 422


def test_another_tenant_probing_ids_gets_404(writer: httpx.Client, intruder: httpx.Client) -> None:
    ev = writer.post("/v1/events", json={"stream": "s:priv", "type": "T"}).json()
    d = writer.post("/v1/decisions", json={"decision": "d", "decision_type": "t"}).json()
    r = writer.post("/v1/runs", json={"trigger_type": "t"}).json()
    a = writer.post("/v1/alerts", json={"tier": 2, "title": "t"}).json()
    probes = [
        ("get", f"/v1/events/{ev['event_id']}", None),
        ("get", f"/v1/decisions/{d['id']}", None),
        ("post", f"/v1/decisions/{d['id']}/feedback", {"accepted": True}),
        ("get", f"/v1/runs/{r['id']}", None),
        ("post", f"/v1/runs/{r['id']}/finish", {}),
        ("get", f"/v1/alerts/{a['id']}", None),
        ("post", f"/v1/alerts/{a['id']}/acknowledge", {}),
    ]
    for method, path, body in probes:
        response = getattr(intruder, method)(path, **({"json": body} if body is not None else {}))
        assert response.status_code == 404, (path, response.text)
    assert intruder.get("/v1/streams/s:priv/events").json() == []
    assert writer.get(f"/v1/decisions/{d['id']}").json()["accepted"] is None


def test_reader_cannot_write(reader: httpx.Client) -> None:
    for path, body in [
        ("/v1/events", {"stream": "s", "type": "t"}),
        ("/v1/decisions", {"decision": "d", "decision_type": "t"}),
        ("/v1/runs", {"trigger_type": "t"}),
        ("/v1/alerts", {"tier": 3, "title": "t"}),
    ]:
        assert reader.post(path, json=body).status_code == 403
