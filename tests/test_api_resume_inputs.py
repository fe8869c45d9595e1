"""Where a request says to resume (cursors, Last-Event-ID) and numbers it sends are parsed
strictly: a malformed value is a 4xx problem naming it, never a 500, never ignored."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from agentledger import EMBEDDING_DIMENSIONS
from tests.api_support import ADMIN
from tests.http_server import client

PROBLEM = "application/problem+json"
# Each list route and the key its cursors carry.
CURSORED = ["/v1/tasks", "/v1/events", "/v1/memory/entities"]
BAD_VALUES: list[Any] = ["7", [1], {"x": 1}, True, -5, 2**64, 1.5, "not-a-uuid", None]


def _cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _is_problem(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == field


@pytest.mark.parametrize("path", CURSORED)
def test_a_forged_cursor_is_a_problem_naming_it(writer: httpx.Client, path: str) -> None:
    for key in ("after", "before", "id"):
        for value in BAD_VALUES:
            response = writer.get(path, params={"cursor": _cursor({key: value})})
            _is_problem(response, 422, "cursor")
    for junk in ("%%%", _cursor({}), base64.urlsafe_b64encode(b"[1]").decode()):
        _is_problem(writer.get(path, params={"cursor": junk}), 422, "cursor")


def test_tenant_cursors_are_checked_too(base: str) -> None:
    with client(base, ADMIN) as platform:
        first = platform.get("/v1/tenants", params={"limit": 1})
        assert first.status_code == 200
        issued = first.json()["next_cursor"]
        assert platform.get("/v1/tenants", params={"cursor": issued}).status_code == 200
        for value in ([1], {"x": 1}, "", "x" * 201):
            response = platform.get("/v1/tenants", params={"cursor": _cursor({"id": value})})
            _is_problem(response, 422, "cursor")


def test_issued_cursors_still_page(writer: httpx.Client) -> None:
    for i in range(3):
        writer.post("/v1/queues/resume/tasks", json={"input": {"i": i}})
    first = writer.get("/v1/tasks", params={"queue": "resume", "limit": 2}).json()
    rest = writer.get(
        "/v1/tasks", params={"queue": "resume", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    ids = [t["id"] for t in first["items"] + rest["items"]]
    assert len(ids) == 3 and ids == sorted(ids)


@pytest.mark.parametrize("header", ["²", "abc", "-5", "1.5", "0x10", "99999999999999999999"])
def test_a_malformed_last_event_id_is_400(writer: httpx.Client, header: str) -> None:
    raw = header.encode("latin-1")  # as a browser would send "²": one byte, 0xB2
    response = writer.get("/v1/events/stream", headers={b"Last-Event-ID": raw})
    _is_problem(response, 400, "Last-Event-ID")


def test_vectors_without_a_direction_are_422_naming_the_field(writer: httpx.Client) -> None:
    flat = [0.0] * EMBEDDING_DIMENSIONS
    body = {"kind": "fact", "name": "flat", "embedding": flat}
    _is_problem(writer.post("/v1/memory/entities", json=body), 422, "embedding")
    for mode in ("vector", "hybrid"):
        search = {"query": "flat", "mode": mode, "embedding": flat}
        _is_problem(writer.post("/v1/memory/search", json=search), 422, "embedding")


@pytest.mark.parametrize("header", ["²", "abc", "-5", "12345678-1234"])
def test_a_malformed_alert_stream_resume_is_400(writer: httpx.Client, header: str) -> None:
    raw = header.encode("latin-1")
    response = writer.get("/v1/alerts/stream", headers={b"Last-Event-ID": raw})
    _is_problem(response, 400, "Last-Event-ID")


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/runs", "/v1/alerts"])
def test_newest_first_cursors_are_checked(writer: httpx.Client, path: str) -> None:
    for value in ([1], {"x": 1}, 7, "not-a-uuid", ""):
        response = writer.get(path, params={"cursor": _cursor({"before": value})})
        _is_problem(response, 422, "cursor")
