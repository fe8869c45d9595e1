"""The optional real embedding model: semantic neighbours when the extra is installed, a
clear error naming the extra when it is not (the default suite never needs torch)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from agentledger import ConfigError, MiniLMEmbedder, MissingExtension
from agentledger.memory import minilm


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_minilm_embeds_by_meaning_or_names_the_extra() -> None:
    embedder = MiniLMEmbedder()
    texts = [
        "The board approved the acquisition of the Berlin property.",
        "Directors signed off on buying the real estate in Berlin.",
        "My cat likes to sleep in the sun.",
    ]
    if not minilm.available():
        with pytest.raises(ConfigError, match=r"agentledger\[embed\]"):
            embedder.embed(texts)
        return
    a, b, c = embedder.embed(texts)
    assert len(a) == 384 and math.isclose(_cos(a, a), 1.0, rel_tol=1e-4)
    assert _cos(a, b) > 0.5 > _cos(a, c)  # paraphrases near, an unrelated text far
    assert embedder.embed([]) == []


def test_minilm_vectors_search_in_pgvector(sync_ledger: Any, tenant_id: str) -> None:
    memory = sync_ledger.tenant(tenant_id).memory.with_embedder(MiniLMEmbedder())
    if not minilm.available():  # without the extra, a search by text says what to install
        with pytest.raises(ConfigError, match=r"agentledger\[embed\]"):
            memory.search_vector("purchase of real estate in Germany", limit=1)
        return
    if "vector" not in sync_ledger.db.extensions:
        with pytest.raises(MissingExtension):
            memory.upsert("note", "berlin", key="1", summary="x", embedding=[0.0] * 384)
        return
    memory.upsert("note", "berlin", key="1", summary="We agreed to buy the Berlin building.")
    memory.upsert("note", "cat", key="2", summary="The cat sleeps all afternoon.")
    hits = memory.search_vector("purchase of real estate in Germany", limit=1)
    assert hits[0].entity.key == "1"
