"""The catalog over HTTP: behaviour, roles, problem+json errors, global entries, isolation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api_support import ADMIN
from tests.http_server import client

STEPS = {"steps": [{"order": 1, "action_type": "notify"}]}


@pytest.fixture
def platform(base: str) -> Iterator[httpx.Client]:
    with client(base, ADMIN) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _push(c: httpx.Client, path: str, content: Any, **extra: Any) -> httpx.Response:
    return c.post(f"{path}/versions", json={"content": content, **extra})


def test_versions_latest_history_and_diff(writer: httpx.Client, reader: httpx.Client) -> None:
    doc = f"/v1/catalog/documents/playbook/{unique('settle')}"
    first = _push(writer, doc, STEPS, title="Settle", created_by="ana")
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["is_global"]) == (1, False)
    assert _push(writer, doc, STEPS, title="Settle").json()["version"] == 1  # unchanged
    changed = {"steps": [*STEPS["steps"], {"order": 2, "action_type": "escalate"}]}
    assert _push(writer, doc, changed, expected_version=1).json()["version"] == 2
    stale = _push(writer, doc, {"steps": []}, expected_version=1)
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["field"] == "expected_version"
    latest = reader.get(doc).json()
    assert (latest["version"], latest["content"]) == (2, changed)
    assert reader.get(f"{doc}/versions/1").json()["content"] == STEPS
    page = reader.get(f"{doc}/versions", params={"limit": 1}).json()
    assert [v["version"] for v in page["items"]] == [2] and "content" not in page["items"][0]
    rest = reader.get(f"{doc}/versions", params={"limit": 1, "cursor": page["next_cursor"]})
    assert [v["version"] for v in rest.json()["items"]] == [1]
    diff = reader.get(f"{doc}/diff", params={"from": 1, "to": 2}).json()
    assert diff["added"] == [
        {"path": "/steps/1", "old": None, "new": {"order": 2, "action_type": "escalate"}}
    ]
    assert diff["removed"] == diff["changed"] == []


def test_documents_list_in_keyset_pages(writer: httpx.Client, reader: httpx.Client) -> None:
    doc_type = f"tool_{uuid.uuid4().hex[:6]}"
    for name in ("c", "a", "b"):
        assert _push(writer, f"/v1/catalog/documents/{doc_type}/{name}", {}).status_code == 201
    first = reader.get("/v1/catalog/documents", params={"doc_type": doc_type, "limit": 2}).json()
    rest = reader.get(
        "/v1/catalog/documents",
        params={"doc_type": doc_type, "limit": 2, "cursor": first["next_cursor"]},
    ).json()
    assert [d["name"] for d in first["items"] + rest["items"]] == ["a", "b", "c"]
    assert rest["next_cursor"] is None
    params: dict[str, str | int] = {"doc_type": doc_type, "limit": 2, "descending": "true"}
    down = reader.get("/v1/catalog/documents", params=params).json()
    more = reader.get(
        "/v1/catalog/documents", params={**params, "cursor": down["next_cursor"]}
    ).json()
    assert [d["name"] for d in down["items"] + more["items"]] == ["c", "b", "a"]
    bad = reader.get("/v1/catalog/documents", params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


def test_schemas_need_an_admin_and_refuse_invalid_content(
    admin: httpx.Client, writer: httpx.Client, reader: httpx.Client
) -> None:
    doc_type = f"plan_{uuid.uuid4().hex[:6]}"
    schema = {"type": "object", "required": ["week_start"]}
    body = {"json_schema": schema}
    assert writer.put(f"/v1/catalog/schemas/{doc_type}", json=body).status_code == 403
    put = admin.put(f"/v1/catalog/schemas/{doc_type}", json=body)
    assert put.status_code == 200 and put.json()["version"] == 1
    assert reader.get(f"/v1/catalog/schemas/{doc_type}").json()["json_schema"] == schema
    assert doc_type in {s["doc_type"] for s in reader.get("/v1/catalog/schemas").json()}
    doc = f"/v1/catalog/documents/{doc_type}/2025-W02"
    refused = _push(writer, doc, {"priorities": []})
    assert refused.status_code == 422 and refused.json()["field"] == "content"
    assert "'required'" in refused.json()["detail"]
    assert reader.get(doc).status_code == 404
    bad_schema = admin.put(f"/v1/catalog/schemas/{doc_type}", json={"json_schema": {"type": 5}})
    assert bad_schema.status_code == 422 and bad_schema.json()["field"] == "schema.type"
    assert _push(writer, doc, {"week_start": "2025-01-06"}).status_code == 201
    assert writer.delete(f"/v1/catalog/schemas/{doc_type}").status_code == 403
    assert admin.delete(f"/v1/catalog/schemas/{doc_type}").status_code == 204
    assert admin.delete(f"/v1/catalog/schemas/{doc_type}").status_code == 404


def test_a_schema_that_would_break_every_write_is_refused_with_422(
    platform: httpx.Client, admin: httpx.Client, writer: httpx.Client
) -> None:
    doc_type = f"loop_{uuid.uuid4().hex[:6]}"
    looped = {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    put = platform.put(f"/v1/catalog/global/schemas/{doc_type}", json={"json_schema": looped})
    assert put.status_code == 422, put.text
    assert put.headers["content-type"] == "application/problem+json"
    assert put.json()["field"] == "schema.$defs.a.$ref"
    assert _push(writer, f"/v1/catalog/documents/{doc_type}/a", {"x": 1}).status_code == 201
    regex = {"json_schema": {"type": "string", "format": "regex"}}
    assert admin.put(f"/v1/catalog/schemas/{doc_type}", json=regex).status_code == 200
    bad = _push(writer, f"/v1/catalog/documents/{doc_type}/b", "(" * 3000 + ")" * 3000)
    assert bad.status_code == 422 and bad.json()["field"] == "content"


def test_global_entries_are_written_by_the_platform_and_read_by_every_tenant(
    platform: httpx.Client, writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    name = unique("finance")
    path = f"/v1/catalog/global/documents/domain_pack/{name}"
    made = _push(platform, path, {"exception_types": ["settlement"]})
    assert made.status_code == 201 and made.json()["is_global"] is True
    assert _push(writer, path, {"exception_types": []}).status_code == 403
    assert writer.delete(path).status_code == 403
    for c in (reader, intruder):
        seen = c.get(f"/v1/catalog/documents/domain_pack/{name}").json()
        assert seen["is_global"] is True and seen["content"] == {"exception_types": ["settlement"]}
    own = _push(writer, f"/v1/catalog/documents/domain_pack/{name}", {"exception_types": ["x"]})
    assert own.json()["is_global"] is False
    assert reader.get(f"/v1/catalog/documents/domain_pack/{name}").json()["is_global"] is False
    assert intruder.get(f"/v1/catalog/documents/domain_pack/{name}").json()["is_global"] is True
    global_only = reader.get(
        f"/v1/catalog/documents/domain_pack/{name}", params={"scope": "global"}
    )
    assert global_only.json()["is_global"] is True
    schema = platform.put(
        "/v1/catalog/global/schemas/domain_pack", json={"json_schema": {"type": "object"}}
    )
    assert schema.status_code == 200 and schema.json()["is_global"] is True
    refused = _push(writer, f"/v1/catalog/documents/domain_pack/{name}", ["not", "an object"])
    assert refused.status_code == 422 and "global schema" in refused.json()["detail"]
    assert platform.delete("/v1/catalog/global/schemas/domain_pack").status_code == 204
    assert platform.delete(path).status_code == 204
    assert platform.delete(path).status_code == 404
    assert intruder.get(f"/v1/catalog/documents/domain_pack/{name}").status_code == 404


def test_roles_and_tenant_isolation(
    writer: httpx.Client, reader: httpx.Client, admin: httpx.Client, intruder: httpx.Client
) -> None:
    doc = f"/v1/catalog/documents/tool/{unique('secret')}"
    assert _push(reader, doc, {}).status_code == 403
    assert _push(writer, doc, {"type": "webhook"}).status_code == 201
    _push(writer, doc, {"type": "email"})
    for path in (doc, f"{doc}/versions", f"{doc}/versions/1", f"{doc}/diff?from=1&to=2"):
        missing = intruder.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"] == "application/problem+json"
    assert intruder.delete(doc).status_code == 404
    listed = intruder.get("/v1/catalog/documents", params={"doc_type": "tool", "scope": "tenant"})
    assert listed.json()["items"] == []
    assert writer.delete(doc).status_code == 403
    assert admin.delete(doc).status_code == 204
    assert reader.get(doc).status_code == 404


def test_bad_input_is_a_clear_4xx(writer: httpx.Client, reader: httpx.Client) -> None:
    doc = f"/v1/catalog/documents/tool/{unique('t')}"
    _push(writer, doc, {})
    checks = [
        (reader.get(f"{doc}/versions/0"), 422, "version"),
        (reader.get(f"{doc}/versions/-3"), 422, "version"),
        (reader.get(f"{doc}/versions/9"), 404, "version"),
        (reader.get(f"{doc}/versions/x"), 422, "version"),
        (reader.get("/v1/catalog/documents/Tool/x"), 422, "doc_type"),
        (reader.get("/v1/catalog/documents/tool/nope"), 404, "name"),
        (reader.get(doc, params={"scope": "all"}), 422, "scope"),
        (_push(writer, doc, None), 422, "content"),
        (_push(writer, doc, {"k": "a\u0000b"}), 422, "content.k"),
        (_push(writer, doc, {}, expected_version=-1), 422, "expected_version"),
        (writer.post(f"{doc}/versions", json={"content": {}, "extra": 1}), 422, "extra"),
    ]
    for response, status, field in checks:
        assert response.status_code == status, response.text
        assert response.json()["field"] == field, response.text
    huge = _push(writer, doc, "x" * 3_000_000)
    assert huge.status_code == 413
    assert reader.get(doc).json()["version"] == 1


def test_catalog_is_in_the_openapi_document(reader: httpx.Client) -> None:
    spec = reader.get("/openapi.json").json()
    for path in (
        "/v1/catalog/documents",
        "/v1/catalog/documents/{doc_type}/{name}",
        "/v1/catalog/documents/{doc_type}/{name}/versions",
        "/v1/catalog/documents/{doc_type}/{name}/versions/{version}",
        "/v1/catalog/documents/{doc_type}/{name}/diff",
        "/v1/catalog/schemas",
        "/v1/catalog/schemas/{doc_type}",
        "/v1/catalog/global/documents/{doc_type}/{name}/versions",
        "/v1/catalog/global/schemas/{doc_type}",
    ):
        assert path in spec["paths"], path
    post = spec["paths"]["/v1/catalog/documents/{doc_type}/{name}/versions"]["post"]
    assert "application/problem+json" in post["responses"]["422"]["content"]
