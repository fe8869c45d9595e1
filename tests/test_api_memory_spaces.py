"""Embedding spaces, vectors as JSON or base64, and the search language over HTTP."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import numpy as np
import pytest


@pytest.fixture
def needs_vector(sync_ledger: Any) -> None:
    if "vector" not in sync_ledger.db.extensions:
        pytest.skip("pgvector is not installed on this server")


def unit(seed: int, dims: int) -> Any:
    x = np.random.default_rng(seed).standard_normal(dims).astype("<f4")
    return x / np.linalg.norm(x)


def b64(vector: Any) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


@pytest.mark.usefixtures("needs_vector")
def test_spaces_and_vectors_over_http(
    admin: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    body = {"name": "openai-small", "dimensions": 1536, "model": "text-embedding-3-small"}
    assert reader.post("/v1/memory/spaces", json=body).status_code == 403
    made = admin.post("/v1/memory/spaces", json=body)
    assert made.status_code == 201 and made.json()["dimensions"] == 1536
    a, b = unit(1, 1536), unit(2, 1536)
    first = admin.post(
        "/v1/memory/entities",
        json={"kind": "doc", "name": "as base64", "embedding": b64(a), "space": "openai-small"},
    ).json()
    batch = admin.post(
        "/v1/memory/entities/batch",
        json={
            "entities": [
                {"kind": "doc", "name": "as json", "embeddings": {"openai-small": b.tolist()}}
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    hits = reader.post(
        "/v1/memory/search",
        json={"query": "x", "mode": "vector", "embedding": b64(a), "space": "openai-small"},
    ).json()
    assert [h["entity"]["name"] for h in hits] == ["as base64", "as json"]
    back = reader.get(
        f"/v1/memory/entities/{first['id']}/embedding", params={"space": "openai-small"}
    )
    assert np.allclose(back.json(), a)
    names = [s["name"] for s in reader.get("/v1/memory/spaces").json()]
    assert names == ["default", "openai-small"]
    # Bad input: 422 naming the field, nothing stored.
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"embedding": "not base64!", "space": "openai-small"}, "embedding", "base64"),
        ({"embedding": base64.b64encode(b"123456").decode()}, "embedding", "float32s"),
        ({"embedding": b64(a[:768]), "space": "openai-small"}, "embedding", "holds 1536"),
        ({"embedding": b64(a), "space": "nope"}, "space", "not an embedding space"),
        ({"embedding": b64(np.zeros(1536)), "space": "openai-small"}, "embedding", "zero"),
    ]
    for bad, field, text in cases:
        r = admin.post("/v1/memory/entities", json={"kind": "doc", "name": "bad", **bad})
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field and text in r.json()["detail"], r.json()
    too_big = admin.post("/v1/memory/spaces", json={"name": "big", "dimensions": 2001})
    assert too_big.status_code == 422 and too_big.json()["field"] == "dimensions"
    assert "2000" in too_big.json()["detail"]
    assert admin.get("/v1/memory/stats").json()["entities"] == 2
    # Another tenant sees none of it.
    assert [s["name"] for s in intruder.get("/v1/memory/spaces").json()] == ["default"]
    theirs = intruder.post(
        "/v1/memory/search",
        json={"query": "x", "mode": "vector", "embedding": b64(a), "space": "openai-small"},
    )
    assert theirs.status_code == 422 and theirs.json()["field"] == "space"
    assert admin.delete("/v1/memory/spaces/openai-small").status_code == 204
    assert admin.delete("/v1/memory/spaces/openai-small").status_code == 404


def test_the_search_language_over_http(
    admin: httpx.Client, reader: httpx.Client, sync_ledger: Any, tenants: Any
) -> None:
    english = {"language": "english", "kind": None, "pending": 0, "batches": 0}
    assert reader.get("/v1/memory/language").json() == english
    assert reader.put("/v1/memory/language", json={"language": "german"}).status_code == 403
    bad = admin.put("/v1/memory/language", json={"language": "klingon"})
    assert bad.status_code == 422 and bad.json()["field"] == "language"
    assert "german" in bad.json()["detail"]
    admin.post("/v1/memory/entities", json={"kind": "fact", "name": "Der Garten"})
    # It answers at once: the stored entities wait for their batch, in the queue.
    switched = admin.put("/v1/memory/language", json={"language": "german"}).json()
    assert switched["language"] == "german" and switched["pending"] >= 1
    assert switched["batches"] == 1
    assert reader.get("/v1/memory/language").json() == switched
    worked = sync_ledger.tenant(tenants[0]["id"]).memory.reindex()
    assert worked == switched["pending"]
    german = {"language": "german", "kind": None, "pending": 0, "batches": 0}
    assert reader.get("/v1/memory/language").json() == german
    admin.post("/v1/memory/entities", json={"kind": "fact", "name": "Das alte Haus"})
    hits = reader.post("/v1/memory/search", json={"query": "Häuser", "mode": "text"}).json()
    assert [h["entity"]["name"] for h in hits] == ["Das alte Haus"]


def test_a_kinds_search_language_over_http(
    admin: httpx.Client,
    reader: httpx.Client,
    intruder: httpx.Client,
    sync_ledger: Any,
    tenants: Any,
) -> None:
    body = {"language": "spanish", "kind": "receta"}
    assert reader.put("/v1/memory/language", json=body).status_code == 403
    bad = admin.put("/v1/memory/language", json={"language": "klingon", "kind": "receta"})
    assert bad.status_code == 422 and bad.json()["field"] == "language"
    assert "spanish" in bad.json()["detail"]
    assert admin.put("/v1/memory/language", json={"language": None}).status_code == 422
    admin.post("/v1/memory/entities", json={"kind": "receta", "name": "Una canción de cuna"})
    switched = admin.put("/v1/memory/language", json=body).json()
    assert switched == {"language": "spanish", "kind": "receta", "pending": 1, "batches": 1}
    sync_ledger.tenant(tenants[0]["id"]).memory.reindex()
    status = reader.get("/v1/memory/language", params={"kind": "receta"}).json()
    assert status == {"language": "spanish", "kind": "receta", "pending": 0, "batches": 0}
    chosen = reader.get("/v1/memory/languages").json()
    assert chosen["kinds"] == {"receta": "spanish"}
    hits = reader.post("/v1/memory/search", json={"query": "canciones", "mode": "text"}).json()
    assert [h["entity"]["name"] for h in hits] == ["Una canción de cuna"]
    # Another tenant's kinds keep its own language.
    assert intruder.get("/v1/memory/languages").json()["kinds"] == {}
    cleared = admin.put("/v1/memory/language", json={"language": None, "kind": "receta"})
    assert cleared.status_code == 200 and cleared.json()["language"] == chosen["language"]
    assert reader.get("/v1/memory/languages").json()["kinds"] == {}
