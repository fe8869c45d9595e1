"""Problems name the field as the caller sent it (never a name the caller did not use), and
the OpenAPI document declares what the event streams answer."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.api_support import ADMIN
from tests.http_server import client

STREAMS = ("/v1/events/stream", "/v1/alerts/stream")


def _cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("forged", ["a" * 65, "-starts-with-a-dash", "a b", "x/y"])
def test_a_tenant_cursor_holding_no_tenant_id_is_a_forged_cursor(base: str, forged: str) -> None:
    with client(base, ADMIN) as platform:
        r = platform.get("/v1/tenants", params={"cursor": _cursor({"id": forged})})
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "cursor", r.text
        assert r.json()["detail"] == "cursor is not a cursor this API issued"
        issued = platform.get("/v1/tenants", params={"limit": 1}).json()["next_cursor"]
        assert platform.get("/v1/tenants", params={"cursor": issued}).status_code == 200


def test_a_heartbeat_claim_is_named_as_the_body_names_it(writer: httpx.Client) -> None:
    token = str(uuid.uuid4())
    for bad in (2**63, 0):
        r = writer.post("/v1/tasks/heartbeat", json={"claims": [{"id": bad, "token": token}]})
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "claims.0.id", r.text
    r = writer.post("/v1/tasks/heartbeat", json={"claims": [{"id": 2**63 - 1, "token": token}]})
    assert r.status_code == 200 and r.json() == [], r.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/events", b'{"stream": "s", "type": '),
        ("/v1/keys", b"{bad"),
        ("/v1/tasks/heartbeat", b'{"claims": [1'),
    ],
)
def test_a_body_that_is_not_json_is_the_field_body(
    admin: httpx.Client, path: str, body: bytes
) -> None:
    r = admin.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "body", problem
    assert [e["field"] for e in problem["errors"]] == ["body"], problem
    assert "not valid JSON" in problem["detail"] and "at character" in problem["detail"]


def test_a_body_field_named_like_a_request_part_is_named(writer: httpx.Client) -> None:
    r = writer.post("/v1/memory/search", json={"query": ["not", "text"]})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "query", r.text


def test_the_streams_openapi_declares_their_400_and_event_stream(
    base: str, reader: httpx.Client
) -> None:
    doc = httpx.get(f"{base}/openapi.json", timeout=30).json()
    for path in STREAMS:
        responses = doc["paths"][path]["get"]["responses"]
        assert "text/event-stream" in responses["200"]["content"], responses["200"]
        assert "application/problem+json" in responses["400"]["content"], responses
        problem = responses["400"]["content"]["application/problem+json"]["schema"]
        assert problem == {"$ref": "#/components/schemas/Problem"}
        r = reader.get(path, headers={"Last-Event-ID": "not-an-id"})
        assert r.status_code == 400 and r.json()["field"] == "Last-Event-ID", r.text
        assert r.headers["content-type"] == "application/problem+json"
    # No other route answers 400 for a header: the declaration stays with the streams.
    assert "400" not in doc["paths"]["/v1/events"]["get"]["responses"]
