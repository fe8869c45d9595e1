"""Binary-quantised embedding spaces (memory_0014): an HNSW index over the signs' bits,
candidates re-ranked by the exact distance; both faces."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agentledger import Conflict, Filter, InvalidInput, Ledger, NewEntity
from agentledger.memory.facade_sync import Memory

pytestmark = pytest.mark.usefixtures("needs_vector")


@pytest.fixture
def needs_vector(sync_ledger: Any) -> None:
    if "vector" not in sync_ledger.db.extensions:
        pytest.skip("pgvector is not installed on this server")


@pytest.fixture
def scope(ledger: Ledger, tenant_id: str) -> Any:
    return ledger.tenant(tenant_id)


def clustered(seed: int, n: int, dims: int, topics: int = 8) -> Any:
    """Unit vectors around a few topics, as a model's embeddings of related texts fall."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dims))
    m = centres[rng.integers(0, topics, n)] + 0.8 * rng.standard_normal((n, dims))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def index_of(scope: Any, space_id: int | None) -> str | None:
    found: str | None = scope.fetch_value(
        "SELECT indexdef FROM pg_indexes WHERE indexname = %(name)s",
        {"name": f"memory_vectors_space_{space_id}_idx"},
    )
    return found


def test_a_binary_space_reranks_its_bit_index_candidates_exactly(scope: Any) -> None:
    mem: Memory = scope.memory
    space = mem.declare_space("bits", dimensions=1536, quantization="binary", rerank=8)
    assert (space.quantization, space.rerank, space.element) == ("binary", 8, "vector")
    assert [(s.name, s.quantization) for s in mem.spaces()] == [
        ("default", "none"),
        ("bits", "binary"),
    ]
    definition = index_of(scope, space.id) or ""
    assert "binary_quantize(embedding)" in definition and "bit_hamming_ops" in definition
    vectors = clustered(1, 240, 1536)
    mem.upsert_many(
        NewEntity(
            kind="doc",
            name=f"doc {i}",
            user_id=f"u{i % 3}",
            embedding=vectors[i],
            space="bits",
        )
        for i in range(240)
    )
    for i in (0, 17, 118, 239):
        hits = mem.search_vector(vectors[i], space="bits", limit=10)
        assert len(hits) == 10
        assert hits[0].entity.name == f"doc {i}"
        # The scores are the exact cosine similarities of the stored vectors, best first.
        exact = {f"doc {j}": float(vectors[j] @ vectors[i]) for j in range(240)}
        for h in hits:
            assert h.score == pytest.approx(exact[h.entity.name], abs=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    mine = mem.search_vector(vectors[4], space="bits", filter=Filter(user="u1", scope="own"))
    assert len(mine) == 10 and {h.entity.user_id for h in mine} == {"u1"}
    fused = mem.search("doc 5", embedding=vectors[5], space="bits", limit=10)
    assert fused[0].entity.name == "doc 5"
    assert fused[0].vector_score == pytest.approx(1.0, abs=1e-5)  # the vector signal too


def test_a_binary_space_goes_past_4000_dimensions(scope: Any) -> None:
    mem: Memory = scope.memory
    space = mem.declare_space("huge", dimensions=6000, quantization="binary", distance="l2")
    vectors = clustered(2, 12, 6000, topics=3)
    for i, vector in enumerate(vectors):
        mem.upsert("doc", f"doc {i}", key=f"d{i}", embedding=vector, space="huge")
    hits = mem.search_vector(vectors[7], space="huge", limit=12)
    assert len(hits) == 12 and hits[0].entity.name == "doc 7"
    assert hits[0].score == pytest.approx(0.0, abs=1e-5)  # minus the L2 distance
    assert mem.embedding(hits[0].entity.id, space="huge").shape == (6000,)
    assert mem.drop_space("huge")
    assert index_of(scope, space.id) is None  # its index went with it


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"dimensions": 64, "quantization": "pq"}, "quantization", "expected one of"),
        ({"dimensions": 64, "quantization": "binary", "rerank": 0}, "rerank", "rerank"),
        ({"dimensions": 64, "quantization": "binary", "rerank": 101}, "rerank", "rerank"),
        (
            {"dimensions": 16_001, "quantization": "binary"},
            "dimensions",
            "binary-quantised space takes 1 to 16000",
        ),
        ({"dimensions": 2001}, "dimensions", "quantization='binary' for up to 16000"),
    ],
)
def test_bad_quantisation_names_the_field_and_declares_nothing(
    scope: Any, kwargs: dict[str, Any], field: str, message: str
) -> None:
    mem: Memory = scope.memory
    with pytest.raises(InvalidInput, match=message) as caught:
        mem.declare_space("q", **kwargs)
    assert caught.value.field == field
    assert [s.name for s in mem.spaces()] == ["default"]


def test_a_binary_space_declared_again_differently_is_a_conflict(scope: Any) -> None:
    mem: Memory = scope.memory
    first = mem.declare_space("b", dimensions=32, quantization="binary")
    assert mem.declare_space("b", dimensions=32, quantization="binary") == first
    with pytest.raises(Conflict) as plain:
        mem.declare_space("b", dimensions=32)
    assert plain.value.field == "quantization"
    with pytest.raises(Conflict) as wider:
        mem.declare_space("b", dimensions=32, quantization="binary", rerank=20)
    assert wider.value.field == "rerank"
