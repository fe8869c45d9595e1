"""Numbers that are not numbers (NaN, Infinity: Python's JSON reader accepts them) are
refused with a 4xx naming the field, and no response ever carries one."""

from __future__ import annotations

import math
import uuid
from typing import Any

import httpx
import pytest

from agentledger import EMBEDDING_DIMENSIONS


def _post(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_everywhere(writer: httpx.Client, bad: str) -> None:
    a = writer.post("/v1/memory/entities", json={"kind": "fact", "name": f"a {bad}"}).json()
    b = writer.post("/v1/memory/entities", json={"kind": "fact", "name": f"b {bad}"}).json()
    flat = ",".join(["0.5"] * (EMBEDDING_DIMENSIONS - 1))
    cases: list[tuple[str, str]] = [
        ("/v1/memory/entities", f'{{"kind": "fact", "name": "x", "relevance": {bad}}}'),
        ("/v1/memory/entities", f'{{"kind": "fact", "name": "x", "embedding": [{flat},{bad}]}}'),
        ("/v1/memory/entities", f'{{"kind": "fact", "name": "x", "attrs": {{"n": {bad}}}}}'),
        ("/v1/memory/search", f'{{"query": "x", "threshold": {bad}}}'),
        ("/v1/memory/search", f'{{"query": "x", "mode": "vector", "embedding": [{flat},{bad}]}}'),
        (
            "/v1/memory/relationships",
            f'{{"from_id": "{a["id"]}", "to_id": "{b["id"]}", "type": "t", "weight": {bad}}}',
        ),
        ("/v1/decisions", f'{{"decision": "d", "confidence": {bad}}}'),
        ("/v1/queues/nan/tasks", f'{{"input": {{}}, "retry_delay": {bad}}}'),
        ("/v1/queues/nan/tasks", f'{{"input": {{"n": {bad}}}}}'),
        ("/v1/events", f'{{"stream": "s", "type": "t", "payload": {{"n": {bad}}}}}'),
    ]
    for path, body in cases:
        response = _post(writer, path, body)
        assert response.status_code in (400, 422), (path, body[:80], response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert writer.get("/v1/memory/stats").json()["entities"] >= 2


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def test_scores_in_responses_are_numbers(writer: httpx.Client) -> None:
    name = f"penguin {uuid.uuid4().hex[:6]}"
    writer.post("/v1/memory/entities", json={"kind": "fact", "name": name})
    for mode in ("hybrid", "fuzzy", "text"):
        hits = writer.post("/v1/memory/search", json={"query": name, "mode": mode}).json()
        assert hits and all(isinstance(h["score"], float | int) for h in hits), mode
        assert _finite(hits)
