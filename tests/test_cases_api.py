"""Cases through HTTP: kinds, the lifecycle, upsert by ref, events, timelines, links,
blocks, listings and aggregates; roles, problem+json errors and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.test_cases import BOTTLENECK, EXCEPTION

PROBLEM = "application/problem+json"


@pytest.fixture
def kinds(admin: httpx.Client) -> None:
    for name, spec in (("exception", EXCEPTION), ("bottleneck", BOTTLENECK)):
        body = {**spec, "transitions": _table(spec["transitions"])}
        done = admin.put(f"/v1/case-kinds/{name}", json=body)
        assert done.status_code == 200, done.text


def _table(transitions: Any) -> dict[str, list[str]]:
    if isinstance(transitions, dict):
        return dict(transitions)
    out: dict[str, list[str]] = {}
    for source, target in transitions:
        out.setdefault(source, []).append(target)
    return out


def _case(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"kind": "exception", "title": "Settlement failed", **extra}
    created = client.post("/v1/cases", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _problem(response: httpx.Response, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if field is not None:
        assert response.json()["field"] == field, response.json()
    return str(response.json()["detail"])


@pytest.mark.usefixtures("kinds")
def test_kinds_and_the_lifecycle(
    admin: httpx.Client, writer: httpx.Client, reader: httpx.Client
) -> None:
    body = {"statuses": ["a", "b"], "transitions": {"a": ["b"]}}
    _problem(writer.put("/v1/case-kinds/other", json=body), 403)
    listed = reader.get("/v1/case-kinds").json()
    assert {k["kind"] for k in listed} >= {"exception", "bottleneck"}
    kind = reader.get("/v1/case-kinds/exception").json()
    assert kind["transitions"]["analyzing"] == ["resolved", "escalated"]
    _problem(reader.get("/v1/case-kinds/nope"), 404, "kind")
    flip = {**EXCEPTION, "transitions": _table(EXCEPTION["transitions"]), "terminal": []}
    _problem(admin.put("/v1/case-kinds/exception", json=flip), 409, "terminal")
    case = _case(
        writer,
        ref=f"EX-{uuid.uuid4().hex[:8]}",
        amount="1250000.50",
        severity="high",
        sla_deadline="2030-01-01T00:00:00Z",
        attrs={"trade": 7},
    )
    assert case["status"] == "open" and case["version"] == 1 and case["amount"] == "1250000.50"
    _problem(reader.post("/v1/cases", json={"kind": "exception", "title": "x"}), 403)
    cid = case["id"]
    moved = writer.post(f"/v1/cases/{cid}/transition", json={"status": "analyzing", "by": "ana"})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    detail = _problem(
        writer.post(f"/v1/cases/{cid}/transition", json={"status": "open"}), 409, "status"
    )
    assert "'analyzing'" in detail and "'open'" in detail
    _problem(writer.post(f"/v1/cases/{cid}/transition", json={"status": "zzz"}), 422, "status")
    stale = {"status": "resolved", "expected_version": 1}
    _problem(writer.post(f"/v1/cases/{cid}/transition", json=stale), 409, "expected_version")
    _problem(writer.patch(f"/v1/cases/{cid}", json={"score": 11}), 422, "score")
    _problem(writer.patch(f"/v1/cases/{cid}", json={"confidence": 1.5}), 422, "confidence")
    _problem(writer.post("/v1/cases", json={"kind": "incident", "title": "x"}), 422, "kind")
    _problem(
        writer.post(
            "/v1/cases", json={"kind": "exception", "title": "x", "at": "2999-01-01T00:00:00Z"}
        ),
        422,
        "at",
    )
    patched = writer.patch(f"/v1/cases/{cid}", json={"score": 9, "expected_version": 2}).json()
    assert patched["score"] == 9 and patched["severity"] == "high" and patched["version"] == 3
    assigned = writer.post(f"/v1/cases/{cid}/assign", json={"owner": "bo"}).json()
    assert assigned["owner"] == "bo"
    got = reader.get(f"/v1/cases/{cid}").json()
    assert got["case"]["owner"] == "bo"
    assert [e["type"] for e in got["timeline"]] == [
        "CaseCreated",
        "CaseStatusChanged",
        "CaseUpdated",
        "CaseAssigned",
    ]
    assert reader.get(f"/v1/cases/by-ref/{case['ref']}").json()["id"] == cid
    _problem(reader.get("/v1/cases/by-ref/nothing-here"), 404, "ref")
    _problem(writer.delete(f"/v1/cases/{cid}"), 403)
    assert admin.delete(f"/v1/cases/{cid}").status_code == 204
    _problem(reader.get(f"/v1/cases/{cid}"), 404, "case_id")
    _problem(admin.delete(f"/v1/cases/{cid}"), 404, "case_id")
    events = reader.get(f"/v1/cases/{cid}/events").json()["items"]
    assert events[-1]["type"] == "CaseDeleted"


@pytest.mark.usefixtures("kinds")
def test_upsert_events_comments_and_the_timeline(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    ref = f"EX-{uuid.uuid4().hex[:8]}"
    first = writer.put(f"/v1/cases/by-ref/exception/{ref}", json={"title": "Claim", "score": 2})
    assert first.status_code == 201 and first.json()["created"] is True
    same = writer.put(f"/v1/cases/by-ref/exception/{ref}", json={"title": "Claim", "score": 2})
    assert same.status_code == 200 and same.json()["changed"] == []
    changed = writer.put(f"/v1/cases/by-ref/exception/{ref}", json={"status": "analyzing"})
    assert changed.json()["changed"] == ["status"]
    _problem(writer.put(f"/v1/cases/by-ref/exception/{uuid.uuid4()}", json={}), 422, "title")
    cid = first.json()["case"]["id"]
    eid = str(uuid.uuid4())
    event = {"type": "TriageCompleted", "data": {"severity": "high"}, "event_id": eid}
    appended = writer.post(f"/v1/cases/{cid}/events", json=event)
    assert appended.status_code == 201 and appended.json()["already_appended"] is False
    again = writer.post(f"/v1/cases/{cid}/events", json=event)
    assert again.status_code == 200 and again.json()["already_appended"] is True
    other = {**event, "data": {"severity": "low"}}
    _problem(writer.post(f"/v1/cases/{cid}/events", json=other), 409, "event_id")
    reserved = {"type": "CaseCreated", "data": {}}
    _problem(writer.post(f"/v1/cases/{cid}/events", json=reserved), 422, "type")
    note = writer.post(f"/v1/cases/{cid}/comments", json={"text": "looked", "by": "ana"})
    assert note.status_code == 201 and note.json()["type"] == "CaseCommented"
    page = reader.get(f"/v1/cases/{cid}/events", params={"limit": 2}).json()
    assert [e["version"] for e in page["items"]] == [1, 2] and page["next_cursor"]
    rest = reader.get(
        f"/v1/cases/{cid}/events", params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert [e["type"] for e in rest["items"]] == ["TriageCompleted", "CaseCommented"]
    _problem(reader.get(f"/v1/cases/{cid}/events", params={"cursor": "x"}), 422, "cursor")


@pytest.mark.usefixtures("kinds")
def test_listing_links_blocks_and_the_supervisor_view(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    domain = f"d-{uuid.uuid4().hex[:6]}"
    made = [
        _case(
            writer,
            domain=domain,
            severity=["low", "high"][i % 2],
            score=i,
            entity="acct:9",
            sla_deadline="2020-01-01T00:00:00Z" if i % 2 else None,
            attrs={"n": i},
        )
        for i in range(5)
    ]
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"domain": domain, "order": "score", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = reader.get("/v1/cases", params=params).json()
        ids += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == [c["id"] for c in reversed(made)]
    high = reader.get("/v1/cases", params={"domain": domain, "severity": ["high"]}).json()
    assert len(high["items"]) == 2
    both = reader.get("/v1/cases", params={"domain": domain, "status": ["open", "analyzing"]})
    assert len(both.json()["items"]) == 5
    eu = reader.get("/v1/cases", params={"domain": domain, "attrs": '{"n": 3}'}).json()
    assert [c["id"] for c in eu["items"]] == [made[3]["id"]]
    _problem(reader.get("/v1/cases", params={"attrs": "[1]"}), 422, "attrs")
    _problem(reader.get("/v1/cases", params={"cursor": "garbage"}), 422, "cursor")
    _problem(reader.get("/v1/cases", params={"order": "title"}), 422, "order")
    breaches = reader.get("/v1/cases/sla-breaches", params={"limit": 100}).json()
    assert {made[1]["id"], made[3]["id"]} <= {c["id"] for c in breaches}
    stats = reader.get("/v1/cases/aggregates", params={"domain": domain}).json()
    assert stats["total"] == 5 and stats["by_severity"] == {"low": 3, "high": 2}
    assert stats["sla_breached"] == 2 and stats["open_age"]["count"] == 5
    similar = reader.get(f"/v1/cases/{made[0]['id']}/similar").json()
    assert similar[0]["same_entity"] is True
    a, b = made[0]["id"], made[1]["id"]
    assert writer.post(f"/v1/cases/{a}/blocks", json={"blocks": b}).json() == {"changed": True}
    _problem(writer.post(f"/v1/cases/{b}/blocks", json={"blocks": a}), 409, "blocked")
    shown = reader.get(f"/v1/cases/{b}/blocks").json()
    assert [c["id"] for c in shown["blocked_by"]] == [a] and shown["blocking"] == []
    assert writer.delete(f"/v1/cases/{a}/blocks/{b}").status_code == 204
    _problem(writer.delete(f"/v1/cases/{a}/blocks/{b}"), 404, "blocked_id")
    entity = writer.post("/v1/memory/entities", json={"kind": "company", "name": "ACME"}).json()
    linked = writer.post(f"/v1/cases/{a}/links", json={"entity_id": entity["id"], "role": "cp"})
    assert linked.json() == {"changed": True}
    links = reader.get(f"/v1/cases/{a}/links").json()
    assert [(x["entity_name"], x["role"]) for x in links] == [("ACME", "cp")]
    missing = {"entity_id": str(uuid.uuid4())}
    _problem(writer.post(f"/v1/cases/{a}/links", json=missing), 404, "entity_id")
    assert (
        writer.delete(f"/v1/cases/{a}/links/{entity['id']}", params={"role": "cp"}).status_code
        == 204
    )
    _problem(reader.post(f"/v1/cases/{a}/links", json={"entity_id": entity["id"]}), 403)


@pytest.mark.usefixtures("kinds")
def test_another_tenant_gets_404(writer: httpx.Client, intruder: httpx.Client) -> None:
    case = _case(writer, ref=f"EX-{uuid.uuid4().hex[:8]}")
    other = _case(writer)
    cid = case["id"]
    for method, path, body in (
        ("GET", f"/v1/cases/{cid}", None),
        ("GET", f"/v1/cases/{cid}/events", None),
        ("GET", f"/v1/cases/{cid}/links", None),
        ("GET", f"/v1/cases/{cid}/blocks", None),
        ("GET", f"/v1/cases/{cid}/similar", None),
        ("GET", f"/v1/cases/by-ref/{case['ref']}", None),
        ("PATCH", f"/v1/cases/{cid}", {"title": "mine now"}),
        ("POST", f"/v1/cases/{cid}/transition", {"status": "analyzing"}),
        ("POST", f"/v1/cases/{cid}/assign", {"owner": "eve"}),
        ("POST", f"/v1/cases/{cid}/comments", {"text": "hello"}),
        ("POST", f"/v1/cases/{cid}/events", {"type": "Probe"}),
        ("POST", f"/v1/cases/{cid}/blocks", {"blocks": other["id"]}),
        ("DELETE", f"/v1/cases/{cid}", None),
    ):
        response = intruder.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert intruder.get("/v1/cases").json()["items"] == []
    assert intruder.get("/v1/cases/aggregates").json()["total"] == 0
    assert writer.get(f"/v1/cases/{cid}").json()["case"]["title"] == "Settlement failed"


def test_the_openapi_document_describes_the_case_routes(reader: httpx.Client) -> None:
    doc = reader.get("/openapi.json").json()
    for path in (
        "/v1/cases",
        "/v1/cases/{case_id}",
        "/v1/cases/by-ref/{kind}/{ref}",
        "/v1/cases/{case_id}/transition",
        "/v1/cases/aggregates",
        "/v1/case-kinds/{kind}",
    ):
        assert path in doc["paths"], path
    transition = doc["paths"]["/v1/cases/{case_id}/transition"]["post"]["responses"]
    assert {"404", "409", "422"} <= set(transition)
    assert "application/problem+json" in transition["409"]["content"]
    assert "201" in doc["paths"]["/v1/cases/by-ref/{kind}/{ref}"]["put"]["responses"]
