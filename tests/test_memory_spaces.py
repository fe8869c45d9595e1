"""Embedding spaces of any dimension, vectors as the ecosystem hands them over, and
full-text search in the tenant's language; both faces."""

from __future__ import annotations

import sys
import uuid
from array import array
from typing import Any

import numpy as np
import pytest

from agentledger import (
    Conflict,
    Filter,
    HashingEmbedder,
    InvalidInput,
    Ledger,
    MiniLMEmbedder,
    NewEntity,
    vectors,
)
from agentledger.memory import spaces
from agentledger.memory.facade_sync import Memory
from agentledger.memory.records import LanguageStatus, ReembedStatus
from tests.conftest import new_tenant

pytestmark = pytest.mark.pgvector


@pytest.fixture
def mem(ledger: Ledger, tenant_id: str) -> Memory:
    return ledger.tenant(tenant_id).memory


def rows(seed: int, n: int, dims: int, dtype: Any = np.float32) -> Any:
    """``n`` random unit vectors of ``dims`` numbers, reproducible by seed."""
    m = np.random.default_rng(seed).standard_normal((n, dims))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(dtype)


def test_a_1536_space_takes_numpy_and_returns_the_full_k_for_one_user(mem: Memory) -> None:
    space = mem.declare_space("openai-small", dimensions=1536, model="text-embedding-3-small")
    assert (space.dimensions, space.distance, space.element) == (1536, "cosine", "vector")
    assert not space.default
    # Declaring it again is a no-op; a different definition is a conflict naming the field.
    assert (
        mem.declare_space("openai-small", dimensions=1536, model="text-embedding-3-small") == space
    )
    with pytest.raises(Conflict) as caught:
        mem.declare_space(
            "openai-small", dimensions=1536, distance="l2", model="text-embedding-3-small"
        )
    assert caught.value.field == "distance"
    vectors = rows(1, 60, 1536, np.float64)  # any float dtype
    result = mem.upsert_many(
        NewEntity(
            kind="note",
            name=f"note {i}",
            key=f"n{i}",
            user_id="ann" if i % 2 else "bob",
            embedding=vectors[i],
            space="openai-small",
        )
        for i in range(60)
    )
    assert result.inserted == 60
    hits = mem.search_vector(
        vectors[7], space="openai-small", filter=Filter(user="ann", scope="own"), limit=10
    )
    assert len(hits) == 10
    assert {h.entity.user_id for h in hits} == {"ann"}
    assert hits[0].entity.name == "note 7"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # Not in the built-in space: nothing there.
    assert mem.search_vector(rows(2, 1, 384)[0], limit=5) == []
    back = mem.embedding(hits[0].entity.id, space="openai-small")
    assert isinstance(back, np.ndarray) and back.dtype == np.float32 and back.shape == (1536,)
    assert np.allclose(back, vectors[7].astype(np.float32))
    assert mem.embedding(hits[0].entity.id) is None  # none in the default space


def test_a_3072_halfvec_space_takes_lists_tuples_and_arrays(mem: Memory) -> None:
    mem.declare_space("openai-large", dimensions=3072, element="halfvec", distance="inner_product")
    vectors = rows(3, 12, 3072)
    forms = [list(map(float, vectors[0])), tuple(map(float, vectors[1])), array("f", vectors[2])]
    for i in range(12):
        value = forms[i] if i < 3 else vectors[i]
        mem.upsert("doc", f"doc {i}", key=f"d{i}", embedding=value, space="openai-large")
    for i in (0, 1, 2, 9):
        hits = mem.search_vector(vectors[i], space="openai-large", limit=12)
        assert len(hits) == 12
        assert hits[0].entity.name == f"doc {i}"
        assert hits[0].score == pytest.approx(1.0, abs=1e-2)  # the inner product, halfvec
    fused = mem.search("doc", embedding=vectors[4], space="openai-large", limit=12)
    assert len(fused) == 12 and all(h.vector_score is not None for h in fused)
    assert max(fused, key=lambda h: h.vector_score or 0).entity.name == "doc 4"


def test_an_entity_carries_vectors_in_several_spaces(mem: Memory) -> None:
    mem.declare_space("small", dimensions=8, distance="l2")
    mem.declare_space("wide", dimensions=2000)
    e = mem.upsert(
        "fact",
        "several",
        key="k",
        embedding=rows(4, 1, 384)[0],
        embeddings={"small": rows(5, 1, 8)[0], "wide": rows(6, 1, 2000)[0]},
    )
    mem.upsert("fact", "other", key="o", embeddings={"small": rows(7, 1, 8)[0]})
    assert mem.search_vector(rows(4, 1, 384)[0], limit=1)[0].entity.id == e.id
    near = mem.search_vector(rows(5, 1, 8)[0], space="small", limit=2)
    assert near[0].entity.id == e.id and near[0].score == pytest.approx(0.0, abs=1e-5)
    assert near[1].score < 0  # minus the L2 distance
    assert mem.search_vector(rows(6, 1, 2000)[0], space="wide", limit=5)[0].entity.id == e.id
    # A merge replaces one space's vector and keeps the others.
    mem.upsert("fact", None, key="k", embeddings={"small": rows(8, 1, 8)[0]})
    assert np.allclose(mem.embedding(e.id, space="small"), rows(8, 1, 8)[0])
    assert np.allclose(mem.embedding(e.id, space="wide"), rows(6, 1, 2000)[0])
    assert [s.name for s in mem.spaces()] == ["default", "small", "wide"]
    assert mem.drop_space("wide") and not mem.drop_space("wide")
    assert [s.name for s in mem.spaces()] == ["default", "small"]


def test_the_default_space_can_be_a_declared_one(mem: Memory) -> None:
    assert [s.name for s in mem.spaces() if s.default] == ["default"]
    mem.declare_space("cohere", dimensions=1024, default=True)
    assert [s.name for s in mem.spaces() if s.default] == ["cohere"]
    e = mem.upsert("fact", "in cohere", embedding=rows(9, 1, 1024)[0])
    assert mem.search_vector(rows(9, 1, 1024)[0], limit=1)[0].entity.id == e.id
    with pytest.raises(InvalidInput, match="holds 1024") as caught:
        mem.upsert("fact", "old size", embedding=rows(9, 1, 384)[0])
    assert caught.value.field == "embedding"
    assert mem.set_default_space("default").builtin
    assert mem.search_vector(rows(10, 1, 384)[0], limit=1) == []


def test_an_upsert_places_vectors_without_a_space_in_the_tenants_default(
    ledger: Ledger, mem: Memory
) -> None:
    """The upsert's own statement chooses the default space (no read of the spaces first):
    a declared default's vectors table, checked against its dimension, else the built-in
    column; another tenant's default space changes nothing here."""
    other = ledger.tenant(new_tenant(ledger)).memory
    other.declare_space("tiny", dimensions=4, default=True)
    builtin = rows(30, 2, 384)
    kept = mem.upsert("fact", "built in", key="b", embedding=builtin[0])
    assert mem.search_vector(builtin[0], limit=1)[0].entity.id == kept.id
    mem.declare_space("small", dimensions=8, model="m8", default=True)
    small = rows(31, 3, 8)
    batch = mem.upsert_many(
        [
            {"kind": "fact", "name": "first", "key": "k0", "embedding": small[0]},
            {"kind": "fact", "name": "bare", "key": "k1"},
            {"kind": "fact", "name": "second", "key": "k2", "embedding": small[1]},
        ]
    )
    found = mem.search_vector(small[1], limit=3)
    assert [h.entity.id for h in found] == [batch.ids[2], batch.ids[0]]  # "bare" has none
    mem.upsert("fact", "first", key="k0", embedding=small[2])  # replaces its vector
    assert mem.search_vector(small[2], limit=1)[0].vector_score == pytest.approx(1.0, abs=1e-5)
    entities = mem.stats().entities
    with pytest.raises(
        InvalidInput, match=r"embedding has 384 dimensions; space 'small' \(m8\) holds 8"
    ) as caught:
        mem.upsert_many(
            [
                {"kind": "fact", "name": "fits", "key": "k3", "embedding": small[0]},
                {"kind": "fact", "name": "does not", "key": "k4", "embedding": builtin[1]},
            ]
        )
    assert caught.value.field == "embedding"
    assert mem.stats().entities == entities  # nothing written
    mem.set_default_space("default")  # the built-in column kept only its own vector
    assert [h.entity.id for h in mem.search_vector(builtin[0], limit=5)] == [kept.id]
    assert other.search_vector(rows(32, 1, 4)[0], limit=5) == []


def test_embedders_declare_their_dimension_and_are_checked(mem: Memory) -> None:
    assert MiniLMEmbedder.dimensions == 384
    embedder = HashingEmbedder(dimensions=768)
    mem.declare_space("nomic", dimensions=embedder.dimensions)
    smart = mem.with_embedder(embedder, space="nomic")
    smart.upsert("fact", "Penguins live in Antarctica")
    smart.upsert("fact", "Camels cross the Sahara")
    assert smart.search_vector("antarctic penguins", limit=1)[0].entity.name.startswith("Peng")
    assert smart.search("penguins")[0].vector_score is not None
    wrong = mem.with_embedder(HashingEmbedder(), space="nomic")
    with pytest.raises(InvalidInput, match="384 dimensions; space 'nomic' holds 768"):
        wrong.upsert("fact", "too short")
    assert mem.stats().entities == 2


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (
            lambda m: m.upsert("f", "x", embedding=rows(1, 1, 1000)[0], space="s"),
            "embedding",
            "1000 dimensions; space 's' holds 1536",
        ),
        (
            lambda m: m.upsert("f", "x", embeddings={"s": rows(1, 1, 3)[0]}),
            "embeddings['s']",
            "holds 1536",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=rows(1, 1, 8)[0], space="nope"),
            "space",
            "'nope' is not an embedding space of this tenant; it has: default, s",
        ),
        (
            lambda m: m.search_vector(rows(1, 1, 8)[0], space="nope"),
            "space",
            "not an embedding space",
        ),
        (
            lambda m: m.search("x", embedding=rows(1, 1, 8)[0], space="nope"),
            "space",
            "not an embedding space",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.full(1536, np.nan), space="s"),
            "embedding",
            "finite",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.full(1536, np.inf), space="s"),
            "embedding",
            "finite",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.zeros(1536), space="s"),
            "embedding",
            "zero vector",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.full(1536, 1e-50), space="s"),
            "embedding",
            "zero vector",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.full(1536, 1e39), space="s"),
            "embedding",
            "single precision",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.ones((2, 768)), space="s"),
            "embedding",
            "one-dimensional",
        ),
        (
            lambda m: m.upsert("f", "x", embedding=np.ones(1536, dtype=bool), space="s"),
            "embedding",
            "real numbers",
        ),
        (lambda m: m.upsert("f", "x", embedding="1,2,3"), "embedding", "must be a list"),
        (lambda m: m.declare_space("big", dimensions=2001), "dimensions", "vector takes 1 to 2000"),
        (
            lambda m: m.declare_space("big", dimensions=4001, element="halfvec"),
            "dimensions",
            "halfvec takes 1 to 4000",
        ),
        (
            lambda m: m.declare_space("big", dimensions=8, distance="dot"),
            "distance",
            "expected one of",
        ),
        (lambda m: m.declare_space("Big Space", dimensions=8), "name", "not a space name"),
        (lambda m: m.declare_space("default", dimensions=8), "name", "built in"),
        (lambda m: m.set_language("klingon"), "language", "german"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    mem: Memory, call: Any, field: str, message: str
) -> None:
    mem.declare_space("s", dimensions=1536)
    with pytest.raises(InvalidInput, match=message) as caught:
        call(mem)
    assert caught.value.field == field
    assert mem.stats().entities == 0
    assert [s.name for s in mem.spaces()] == ["default", "s"]
    assert mem.language() == "english"


def test_spaces_and_vectors_are_isolated_by_tenant(ledger: Ledger, mem: Memory) -> None:
    other = ledger.tenants.create(f"t-{uuid.uuid4().hex[:12]}").id
    theirs = ledger.tenant(other).memory
    mem.declare_space("s", dimensions=16)
    theirs.declare_space("s", dimensions=32)  # the same name, their own space
    mine = mem.upsert("f", "mine", embedding=rows(11, 1, 16)[0], space="s")
    theirs.upsert("f", "theirs", embedding=rows(11, 1, 32)[0], space="s")
    assert [h.entity.id for h in mem.search_vector(rows(11, 1, 16)[0], space="s")] == [mine.id]
    assert [h.entity.name for h in theirs.search_vector(rows(11, 1, 32)[0], space="s")] == [
        "theirs"
    ]
    with pytest.raises(InvalidInput, match="holds 32"):
        theirs.search_vector(rows(11, 1, 16)[0], space="s")
    theirs.declare_space("only-theirs", dimensions=4)
    with pytest.raises(InvalidInput, match="only-theirs"):
        mem.search_vector(rows(1, 1, 4)[0], space="only-theirs")


def test_vectors_without_numpy_are_checked_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    value = rows(12, 1, 64, np.float64)[0]
    with_numpy = spaces.vector("embedding", value)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if numpy were not installed
    assert vectors.vector("embedding", value.tolist()) == with_numpy
    assert vectors.vector("embedding", array("d", value)) == with_numpy
    assert with_numpy.dimensions == 64 and len(with_numpy) == 4 + 4 * 64
    for bad, message in [
        ([0.0] * 8, "zero vector"),
        ([1e-50] * 8, "zero vector"),
        ([float("nan")] + [1.0] * 7, "finite"),
        ([1e39] + [1.0] * 7, "single precision"),
        ([True] * 8, "booleans"),
        (["1"] * 8, "numbers only"),
        ([], "1 to 16000"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            vectors.vector("embedding", bad)


def test_full_text_search_in_german_and_spanish(ledger: Ledger, mem: Memory) -> None:
    kept = mem.upsert("fact", "Das Haus am See", summary="ein altes Haus mit Garten")
    for i in range(4):
        mem.upsert("fact", f"Notiz {i}")
    assert mem.search_text("Häuser") == []  # english stems nothing here
    assert mem.set_language("german", batch_size=2) == "german"  # at once: 3 batches wait
    assert mem.language() == "german"
    status = mem.language_status()
    assert (status.language, status.pending, status.batches) == ("german", 5, 3)
    seen: list[int] = []
    assert mem.reindex(progress=seen.append) == 5  # worked here, batch by batch
    assert seen[-1] == 5 and seen == sorted(seen)
    assert mem.language_status() == LanguageStatus(language="german", pending=0, batches=0)
    assert mem.reindex() == 0  # nothing left in another language
    # Stored entities were re-indexed; new ones are indexed in German too.
    mem.upsert("fact", "Die Gärten", summary="zwei Gärten hinter den Häusern")
    assert [h.entity.id for h in mem.search_text("Häuser")][:1] == [kept.id]
    assert {h.entity.name for h in mem.search_text("Garten")} == {"Das Haus am See", "Die Gärten"}
    assert mem.search("Häuser")[0].entity.id == kept.id
    assert "<b>" in (mem.search_text("Häuser")[0].highlight or "")
    spanish = ledger.tenant(ledger.tenants.create(f"t-{uuid.uuid4().hex[:12]}").id).memory
    spanish.set_language("spanish")
    song = spanish.upsert("fact", "Una canción de amor", summary="las canciones antiguas")
    assert [h.entity.id for h in spanish.search_text("canciones")] == [song.id]
    assert [h.entity.id for h in spanish.search_text("cantar las canciones")] == []
    assert mem.search_text("canciones") == []  # the German tenant's memory is its own


class Flaky:
    """An embedder that fails on its second call, as an interrupted run would stop."""

    dimensions = 64

    def __init__(self) -> None:
        self.calls = 0
        self.inner = HashingEmbedder(dimensions=64)

    def embed(self, texts: Any) -> Any:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("the model went away")
        return self.inner.embed(texts)


def test_reembed_fills_a_new_space_resumably_then_flips_the_default(mem: Memory) -> None:
    for i in range(10):
        mem.upsert("fact", f"fact number {i}", summary="about penguins" if i == 7 else None)
    mem.declare_space("h64", dimensions=64)
    with pytest.raises(RuntimeError):
        mem.reembed("h64", Flaky(), batch_size=3)  # the first batch of 3 is stored
    assert mem.reembed_status("h64") == ReembedStatus(
        space="h64", missing=7, batches=3, default=False
    )
    seen: list[int] = []
    done = mem.reembed("h64", HashingEmbedder(dimensions=64), batch_size=3, progress=seen.append)
    assert (done.stored, done.missing, done.batches) == (7, 0, 0)
    assert len(seen) == 3 and seen[-1] == 7  # the three batches left, resumed
    assert mem.reembed("h64", HashingEmbedder(dimensions=64)).stored == 0  # nothing left
    assert [s.name for s in mem.spaces() if s.default] == ["default"]
    flipped = mem.reembed("h64", HashingEmbedder(dimensions=64), make_default=True)
    assert (flipped.stored, flipped.default) == (0, True)
    assert [s.name for s in mem.spaces() if s.default] == ["h64"]
    smart = mem.with_embedder(HashingEmbedder(dimensions=64))  # the default space now
    assert smart.search_vector("penguins", limit=1)[0].entity.name == "fact number 7"
    with pytest.raises(InvalidInput, match="declared space") as caught:
        mem.reembed("default", HashingEmbedder())
    assert caught.value.field == "space"
    mem.declare_space("h32", dimensions=32)
    with pytest.raises(InvalidInput, match="holds 32") as caught:
        mem.reembed("h32", HashingEmbedder(dimensions=64))
    assert caught.value.field == "embeddings[0]"
    assert mem.search_vector(np.ones(32), space="h32") == []


def test_the_memory_cli_lists_spaces_and_reembeds(
    sync_ledger: Ledger, database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from typer.testing import CliRunner

    from agentledger import cli
    from agentledger.cli import common

    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    memory = sync_ledger.tenant(tid).memory
    for i in range(5):
        memory.upsert("fact", f"fact {i}")
    memory.declare_space("h96", dimensions=96)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(common, "out", Console(width=200))
    runner = CliRunner()
    done = runner.invoke(cli.app, ["memory", "reembed", "h96", "--tenant", tid, "--make-default"])
    assert done.exit_code == 0, done.output
    assert "stored 5 vectors in h96 (now the default)" in done.output
    listed = runner.invoke(cli.app, ["memory", "spaces", "--tenant", tid])
    assert listed.exit_code == 0 and "* h96" in listed.output
    again = runner.invoke(cli.app, ["memory", "reembed", "h96", "--tenant", tid])
    assert "stored 0 vectors" in again.output
    unknown = runner.invoke(cli.app, ["memory", "reembed", "nope", "--tenant", tid])
    assert unknown.exit_code != 0

    # Batches left on the queue for workers, then worked here with an embedder of the
    # caller's own (module:function, called with the space).
    memory.declare_space("h48", dimensions=48)
    queued = runner.invoke(cli.app, ["memory", "reembed", "h48", "--tenant", tid, "--enqueue-only"])
    assert queued.exit_code == 0, queued.output
    assert "5 entities to embed into h48" in queued.output
    assert "on queue agentledger.reembed:h48" in queued.output
    assert memory.reembed_status("h48").missing == 5
    own = ["--embedder", f"{__name__}:hashing_of_the_space"]
    done = runner.invoke(cli.app, ["memory", "reembed", "h48", "--tenant", tid, *own])
    assert done.exit_code == 0, done.output
    assert "stored 5 vectors in h48" in done.output
    assert memory.reembed_status("h48").missing == 0
    bogus = runner.invoke(cli.app, ["memory", "reembed", "h48", "--tenant", tid, "--embedder", "x"])
    assert bogus.exit_code == 2 and "module:function" in bogus.output
    absent = ["--embedder", "no_such_module:embedder"]
    missing = runner.invoke(cli.app, ["memory", "reembed", "h48", "--tenant", tid, *absent])
    assert missing.exit_code == 2 and "cannot import no_such_module" in missing.output


def hashing_of_the_space(space: Any) -> HashingEmbedder:
    """An embedder as ``--embedder module:function`` names one: made for the space."""
    return HashingEmbedder(dimensions=space.dimensions)


def test_vectors_read_back_as_lists_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentledger.db import adapters

    packed = spaces.vector("embedding", [0.5, -1.0, 2.0])
    assert adapters.load_vector(packed).tolist() == [0.5, -1.0, 2.0]  # numpy, float32
    monkeypatch.setattr(adapters, "optional_numpy", lambda: None)
    assert adapters.load_vector(packed) == [0.5, -1.0, 2.0]
