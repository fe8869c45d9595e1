"""Keyset pages over HTTP reach every item once: a memory cursor holds its own position
(whatever happens to the entity it came from), and the agent registry pages by name."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from agentledger import Ledger

PROBLEM = "application/problem+json"


def _cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _is_cursor_problem(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == "cursor"


def _entities(writer: httpx.Client, kind: str, count: int) -> list[str]:
    """``count`` entities of ``kind``, one request each (so each its own updated_at)."""
    names = [f"{kind} {i}" for i in range(count)]
    for name in names:
        body = {"kind": kind, "name": name, "key": name}
        assert writer.post("/v1/memory/entities", json=body).status_code == 200
    return names


def _walk(
    reader: httpx.Client,
    path: str,
    params: dict[str, Any],
    between: Callable[[list[dict[str, Any]]], None] = lambda _: None,
) -> tuple[list[str], list[str]]:
    """Every page of a list route in turn (``between`` runs after each page but the last):
    the names seen, in order, and the cursors followed."""
    seen: list[str] = []
    cursors: list[str] = []
    cursor: str | None = None
    while True:
        response = reader.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["name"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, cursors
        cursors.append(cursor)
        assert len(cursors) <= 20, "paging does not end"
        between(body["items"])


def test_entity_pages_continue_past_an_entity_updated_since(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    kind = f"paged-{uuid.uuid4().hex[:6]}"
    names = _entities(writer, kind, 7)
    updated: list[str] = []

    def update_last(items: list[dict[str, Any]]) -> None:
        last = items[-1]
        body = {"kind": kind, "name": last["name"], "key": last["key"], "attrs": {"seen": 1}}
        assert writer.post("/v1/memory/entities", json=body).status_code == 200
        updated.append(last["name"])

    seen, _ = _walk(reader, "/v1/memory/entities", {"kind": kind, "limit": 2}, update_last)
    assert len(updated) == 3
    # Each update moved its entity to the top of the list, behind the pages already read.
    top = reader.get("/v1/memory/entities", params={"kind": kind, "limit": 1}).json()
    assert top["items"][0]["name"] == updated[-1]
    assert sorted(seen) == sorted(names), seen
    assert seen == names[::-1]  # latest change first, as it stood when each page was read


def test_entity_pages_continue_past_an_entity_deleted_since(
    writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    kind = f"purged-{uuid.uuid4().hex[:6]}"
    names = _entities(writer, kind, 7)

    def delete_page(items: list[dict[str, Any]]) -> None:
        for item in items:
            assert writer.delete(f"/v1/memory/entities/{item['id']}").status_code == 204

    seen, cursors = _walk(reader, "/v1/memory/entities", {"kind": kind, "limit": 2}, delete_page)
    assert seen == names[::-1]
    left = reader.get("/v1/memory/entities", params={"kind": kind}).json()["items"]
    assert [e["name"] for e in left] == names[:1]  # the last page, not deleted
    # A cursor is a position, not a key to another tenant's data: it reads the caller's own.
    crossed = intruder.get("/v1/memory/entities", params={"kind": kind, "cursor": cursors[0]})
    assert crossed.status_code == 200 and crossed.json()["items"] == []
    issued = json.loads(base64.urlsafe_b64decode(cursors[0] + "=" * (-len(cursors[0]) % 4)))
    for forged in (
        {**issued, "id": "not-a-uuid"},
        {**issued, "at": "2024-05-01T10:00:00"},  # no offset
        {**issued, "at": "yesterday"},
        {**issued, "at": 1714557600},
        {"id": issued["id"]},
        {"at": issued["at"]},
        {"after": issued["id"]},
    ):
        _is_cursor_problem(reader.get("/v1/memory/entities", params={"cursor": _cursor(forged)}))
    _is_cursor_problem(reader.get("/v1/memory/entities", params={"cursor": "%%%"}))


def test_agents_page_through_more_than_a_page_limit(
    tenants: Any, sync_ledger: Ledger, reader: httpx.Client, intruder: httpx.Client
) -> None:
    agent_type = f"crowd-{uuid.uuid4().hex[:6]}"
    scope = sync_ledger.tenant(tenants[0]["id"])
    names = [f"{agent_type}-{i:04d}" for i in range(510)]
    for name in names:
        scope.agents.register(name, agent_type=agent_type)
    seen, cursors = _walk(reader, "/v1/agents", {"agent_type": agent_type, "limit": 200})
    assert len(cursors) == 2  # pages of 200, 200, 110
    assert seen == sorted(names)  # each exactly once, in name order
    assert intruder.get("/v1/agents", params={"agent_type": agent_type}).json() == {
        "items": [],
        "next_cursor": None,
    }
    for after in ("a\x00b", "\ud800", "", "x" * 201, 5, None):
        _is_cursor_problem(reader.get("/v1/agents", params={"cursor": _cursor({"after": after})}))
    _is_cursor_problem(reader.get("/v1/agents", params={"cursor": "%%%"}))
