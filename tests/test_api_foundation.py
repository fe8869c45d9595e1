"""The HTTP API's foundation: auth, roles, tenant isolation, problem+json, limits, health."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentledger import Settings
from agentledger.api import create_app
from tests.http_server import client, serve

ADMIN = "platform-admin-secret"


@pytest.fixture(scope="module")
def base(settings: Settings) -> Iterator[str]:
    app = create_app(settings.with_(admin_key=ADMIN, max_body_bytes=10_000))
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def platform(base: str) -> Iterator[httpx.Client]:
    with client(base, ADMIN) as c:
        yield c


def _tenant_with_keys(platform: httpx.Client) -> dict[str, Any]:
    tid = f"t-{uuid.uuid4().hex[:10]}"
    assert platform.post("/v1/tenants", json={"id": tid, "name": tid}).status_code == 201
    keys = {
        role: platform.post(f"/v1/tenants/{tid}/keys", json={"role": role}).json()
        for role in ("admin", "writer", "reader")
    }
    return {"id": tid, "keys": keys}


def test_health_and_readiness(base: str) -> None:
    with client(base) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["migrations_current"] is True


def test_metrics_count_requests(base: str) -> None:
    with client(base) as c:
        c.get("/healthz")
        text = c.get("/metrics").text
    assert 'agentledger_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "agentledger_pool_connections" in text


def test_missing_and_unknown_keys_are_401_problems(base: str) -> None:
    with client(base) as c:
        r = c.get("/v1/keys")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
    with client(base, "al_nope_nope") as c:
        assert c.get("/v1/keys").status_code == 401


def test_platform_routes_need_the_admin_key(base: str, platform: httpx.Client) -> None:
    t = _tenant_with_keys(platform)
    with client(base, t["keys"]["admin"]["secret"]) as c:
        assert c.get("/v1/tenants").status_code == 403
    page = platform.get("/v1/tenants", params={"limit": 1})
    assert page.status_code == 200
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]


def test_roles(base: str, platform: httpx.Client) -> None:
    t = _tenant_with_keys(platform)
    with client(base, t["keys"]["reader"]["secret"]) as reader:
        r = reader.get("/v1/keys")
        assert r.status_code == 403 and "admin" in r.json()["detail"]
    with client(base, t["keys"]["admin"]["secret"]) as admin:
        listed = admin.get("/v1/keys").json()
        assert {k["role"] for k in listed} == {"admin", "writer", "reader"}


def test_another_tenants_key_id_is_404(base: str, platform: httpx.Client) -> None:
    a, b = _tenant_with_keys(platform), _tenant_with_keys(platform)
    victim = a["keys"]["reader"]["key"]["id"]
    with client(base, b["keys"]["admin"]["secret"]) as c:
        r = c.post(f"/v1/keys/{victim}/revoke")
    assert r.status_code == 404
    with client(base, a["keys"]["reader"]["secret"]) as c:
        assert c.get("/v1/keys").status_code == 403  # still valid: authenticated, not admin


def test_revoked_key_stops_working(base: str, platform: httpx.Client) -> None:
    t = _tenant_with_keys(platform)
    writer = t["keys"]["writer"]
    with client(base, t["keys"]["admin"]["secret"]) as admin:
        assert admin.post(f"/v1/keys/{writer['key']['id']}/revoke").status_code == 200
    with client(base, writer["secret"]) as c:
        assert c.get("/v1/keys").status_code == 401


def test_validation_problems_name_the_field(platform: httpx.Client) -> None:
    r = platform.post("/v1/tenants", json={"id": "ok-id", "metadata": "nope"})
    assert r.status_code == 422
    assert r.json()["field"] == "metadata"
    r = platform.post("/v1/tenants", json={"id": "bad id"})
    assert r.status_code == 422 and r.json()["field"] == "id"
    r = platform.post("/v1/tenants", json={"id": "x", "metadata": {"a": "\u0000"}})
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    r = platform.get("/v1/tenants", params={"cursor": "!!!"})
    assert r.status_code == 422 and r.json()["field"] == "cursor"


def test_suspended_tenant_gets_403_on_write(base: str, platform: httpx.Client) -> None:
    t = _tenant_with_keys(platform)
    assert platform.post(f"/v1/tenants/{t['id']}/suspend").json()["status"] == "suspended"
    with client(base, t["keys"]["admin"]["secret"]) as c:
        assert c.get("/v1/keys").status_code == 200
        r = c.post("/v1/keys", json={"role": "reader"})
        assert r.status_code == 403 and r.json()["type"].endswith("tenant-inactive")


def test_oversized_body_is_413_and_request_ids_echo(platform: httpx.Client) -> None:
    r = platform.post(
        "/v1/tenants",
        content=b"{" + b" " * 20_000 + b"}",
        headers={"content-type": "application/json", "x-request-id": "req-42"},
    )
    assert r.status_code == 413
    assert r.headers["x-request-id"] == "req-42"


def test_oversized_body_streamed_without_a_length_is_413(platform: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"id": "'
        for _ in range(10):
            yield b"x" * 4_000
        yield b'"}'

    r = platform.post(
        "/v1/tenants",
        content=chunks(),
        headers={"content-type": "application/json", "x-request-id": "req-43"},
    )
    assert r.status_code == 413 and r.json()["status"] == 413
    assert r.headers["x-request-id"] == "req-43"


def test_a_body_that_is_not_utf8_is_422_naming_the_body(base: str, platform: httpx.Client) -> None:
    t = _tenant_with_keys(platform)
    with client(base, t["keys"]["writer"]["secret"]) as c:
        r = c.post(
            "/v1/events",
            content=b'{"stream": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "body" and "UTF-8" in r.json()["detail"]
        assert c.get("/v1/events").json()["items"] == []


def test_a_lone_surrogate_is_422_naming_where(base: str, platform: httpx.Client) -> None:
    # JSON may escape half of a UTF-16 pair; jsonb cannot store it. The answer names the
    # place (by the key's repr where the key is the culprit) and is itself valid UTF-8.
    t = _tenant_with_keys(platform)
    with client(base, t["keys"]["writer"]["secret"]) as c:
        for body, field in (
            (b'{"stream": "s", "type": "t", "payload": {"a": "x\\ud800"}}', "payload.a"),
            (b'{"stream": "s", "type": "t", "payload": {"\\udc80": 1}}', "payload"),
        ):
            r = c.post("/v1/events", content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, r.text
            assert r.json()["field"] == field and "surrogate" in r.json()["detail"]
        assert c.get("/v1/events").json()["items"] == []


def test_the_document_declares_the_bearer_scheme_on_every_keyed_route(base: str) -> None:
    with client(base) as c:
        doc = c.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            keyed = path.startswith("/v1/")
            assert (op.get("security") == [{"HTTPBearer": []}]) is keyed, (method, path)


def test_openapi_document_lists_routes(base: str) -> None:
    with client(base) as c:
        doc = c.get("/openapi.json").json()
    assert {"/v1/tenants", "/v1/keys", "/readyz"} <= set(doc["paths"])
