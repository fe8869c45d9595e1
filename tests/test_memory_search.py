"""Memory search: fuzzy names, full text, vectors, hybrid fusion, scoped limits; both faces."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from agentledger import (
    EMBEDDING_DIMENSIONS,
    Filter,
    HashingEmbedder,
    Ledger,
    MissingExtension,
    NewEntity,
)
from agentledger.memory.facade_sync import Memory


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(EMBEDDING_DIMENSIONS)]


def test_find_by_name_is_fuzzy_and_ranked(mem: Memory) -> None:
    for name in ["John Smith", "Jane Smithers", "Joanna Smythe-Barrow", "Alice Wong"]:
        mem.upsert("contact", name, by_name=True)
    hits = mem.find_by_name("Jon Smth")
    assert hits[0].entity.name == "John Smith"
    assert hits[0].fuzzy_score == hits[0].score and hits[0].score >= 0.3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "Alice Wong" not in [h.entity.name for h in hits]
    assert mem.find_by_name("Jon Smth", threshold=0.95) == []
    assert mem.find_by_name("Jon Smth", filter=Filter(kind="deal")) == []


def test_text_search_ranks_and_highlights(mem: Memory) -> None:
    mem.upsert("fact", "Quarterly budget", summary="The budget review is due in March")
    mem.upsert("fact", "Team offsite", summary="Offsite planning; budget not decided")
    mem.upsert("fact", "Unrelated", attrs={"note": "the budget lives in attrs"})
    mem.upsert("fact", "Nothing here", summary="irrelevant text")
    hits = mem.search_text("budget")
    assert hits[0].entity.name == "Quarterly budget"
    assert {h.entity.name for h in hits} == {"Quarterly budget", "Team offsite", "Unrelated"}
    assert "<b>budget</b>" in (hits[0].highlight or "").lower()
    assert [h.entity.name for h in mem.search_text('"budget review"')] == ["Quarterly budget"]


def test_hybrid_fuses_signals_and_reports_each_score(mem: Memory) -> None:
    mem.upsert("contact", "John Smith", summary="met at the Berlin conference")
    mem.upsert("fact", "Berlin trip", summary="John Smith organised the Berlin trip")
    mem.upsert("fact", "Other", summary="nothing to see")
    hits = mem.search("John Smith")
    names = [h.entity.name for h in hits]
    assert names[0] == "John Smith"  # text and fuzzy both rank it first
    top = hits[0]
    assert top.text_score is not None and top.fuzzy_score is not None
    assert top.vector_score is None
    assert "Berlin trip" in names and "Other" not in names
    assert hits[0].score >= hits[-1].score


def test_search_returns_the_full_limit_in_a_narrow_scope(
    mem: Memory, server_has_vector: bool
) -> None:
    # 300 entities for other users, 12 for alice: a scoped search must still fill its limit.
    items = [
        NewEntity(kind="fact", name=f"budget note {i}", user_id=f"u{i % 5}", embedding=None)
        for i in range(300)
    ]
    items += [NewEntity(kind="fact", name=f"budget alice {i}", user_id="alice") for i in range(12)]
    if server_has_vector:
        items = [
            NewEntity(kind=e.kind, name=e.name, user_id=e.user_id, embedding=unit(i))
            for i, e in enumerate(items)
        ]
    mem.upsert_many(items)
    scope = Filter(user="alice")
    assert len(mem.search_text("budget", filter=scope, limit=10)) == 10
    assert len(mem.find_by_name("budget alice", filter=scope, limit=10)) == 10
    assert len(mem.search("budget", filter=scope, limit=10)) == 10
    if server_has_vector:
        hits = mem.search_vector(unit(999), filter=scope, limit=10)
        assert len(hits) == 10
        assert all(h.entity.user_id == "alice" for h in hits)
        assert len(mem.search_vector(unit(999), filter=scope, limit=50)) == 12


def test_vector_search_and_embedder(mem: Memory, server_has_vector: bool) -> None:
    if not server_has_vector:
        with pytest.raises(MissingExtension, match="vector"):
            mem.search_vector(unit(1))
        with pytest.raises(MissingExtension):
            mem.upsert("fact", "x", embedding=unit(1))
        assert mem.stats().entities == 0
        return
    a = mem.upsert("fact", "a", embedding=unit(1))
    mem.upsert("fact", "b", embedding=unit(2))
    hits = mem.search_vector(unit(1), limit=2)
    assert hits[0].entity.id == a.id and hits[0].vector_score == pytest.approx(1.0, abs=1e-5)
    smart = mem.with_embedder(HashingEmbedder())
    smart.upsert("fact", "Penguins live in Antarctica", summary="cold birds")
    smart.upsert("fact", "Camels cross the Sahara", summary="desert animals")
    found = smart.search_vector("antarctica penguins", limit=1)
    assert found[0].entity.name == "Penguins live in Antarctica"
    fused = smart.search("penguins")
    assert fused[0].vector_score is not None and fused[0].text_score is not None


def test_wrong_dimension_embedding_is_invalid(mem: Memory, server_has_vector: bool) -> None:
    from agentledger import InvalidInput

    # Without pgvector there is no space to measure it against.
    error = InvalidInput if server_has_vector else MissingExtension
    with pytest.raises(error, match=r"dimensions|vector"):
        mem.search_vector([1.0, 2.0])


@pytest.mark.parametrize(
    ("vector", "problem"),
    [
        ([0.0] * EMBEDDING_DIMENSIONS, "zero vector"),
        ([1e-50] * EMBEDDING_DIMENSIONS, "zero vector"),  # zero in single precision
        ([1e39] + [0.0] * (EMBEDDING_DIMENSIONS - 1), "single precision"),
    ],
)
def test_vectors_without_a_direction_are_refused(
    mem: Any, vector: list[float], problem: str
) -> None:
    from agentledger import InvalidInput

    calls: list[Callable[[], object]] = [
        lambda: mem.upsert("fact", "flat", embedding=vector),
        lambda: mem.upsert_many([NewEntity(kind="fact", name="flat", embedding=vector)]),
        lambda: mem.search_vector(vector),
        lambda: mem.search("flat", embedding=vector),
    ]
    for call in calls:
        with pytest.raises(InvalidInput, match=problem) as caught:
            call()
        assert caught.value.field is not None and "embedding" in caught.value.field
    assert mem.stats().entities == 0


def test_a_stored_zero_vector_never_scores_nan(
    mem: Any, server_has_vector: bool, database_url: str, tenant_id: str
) -> None:
    """A zero-length embedding written before such vectors were refused (here by the owner,
    past the library's checks) is no vector hit, and scores no NaN in a fused ranking."""
    if not server_has_vector:  # nothing can be stored without pgvector
        with pytest.raises(MissingExtension):
            mem.upsert("fact", "x", embedding=unit(7))
        return
    import math

    import psycopg

    flat = mem.upsert("fact", "flat penguin")
    good = mem.upsert("fact", "round penguin", embedding=unit(7))
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE agentledger.memory_entities SET embedding = array_fill(0, ARRAY[%s])::vector"
            " WHERE tenant_id = %s AND id = %s",
            (EMBEDDING_DIMENSIONS, tenant_id, flat.id),
        )
    hits = mem.search_vector(unit(7), limit=10)
    assert [h.entity.id for h in hits] == [good.id]
    for hit in mem.search("penguin", embedding=unit(7), limit=10):
        assert math.isfinite(hit.score)
        assert hit.vector_score is None or math.isfinite(hit.vector_score)
        if hit.entity.id == flat.id:
            assert hit.vector_score is None


def test_an_orthogonal_vector_is_a_hit_of_similarity_zero(
    mem: Memory, server_has_vector: bool
) -> None:
    if not server_has_vector:
        pytest.skip("pgvector is not installed")
    axis = [[1.0 if i == k else 0.0 for i in range(EMBEDDING_DIMENSIONS)] for k in range(2)]
    mem.upsert("doc", "along", embedding=axis[0])
    mem.upsert("doc", "across", embedding=axis[1])
    hits = mem.search_vector(axis[0])
    assert [(h.entity.name, h.score) for h in hits] == [("along", 1.0), ("across", 0.0)]


def test_a_batch_upsert_stores_embeddings_and_keeps_the_ones_it_does_not_bring(
    mem: Memory, server_has_vector: bool
) -> None:
    if not server_has_vector:
        pytest.skip("needs pgvector")
    mem.upsert_many(
        [
            NewEntity(kind="fact", name="a", key="a", embedding=unit(1)),
            NewEntity(kind="fact", name="b", key="b", embedding=unit(2)),
        ]
    )
    # "a" comes back without an embedding and keeps its own; "b" gets a new one; "c" is new.
    mem.upsert_many(
        [
            NewEntity(kind="fact", name="a", key="a", summary="again"),
            NewEntity(kind="fact", name="b", key="b", embedding=unit(3)),
            NewEntity(kind="fact", name="c", key="c"),
        ]
    )

    def nearest(seed: int) -> tuple[str, float | None]:
        hit = mem.search_vector(unit(seed), limit=1)[0]
        return hit.entity.name, hit.vector_score

    assert nearest(1)[0] == "a" and nearest(1)[1] == pytest.approx(1.0, abs=1e-5)
    assert nearest(3)[0] == "b" and nearest(3)[1] == pytest.approx(1.0, abs=1e-5)
    assert nearest(2)[1] != pytest.approx(1.0, abs=1e-5)  # b's old embedding is gone
    assert {h.entity.name for h in mem.search_vector(unit(4), limit=10)} == {"a", "b"}
