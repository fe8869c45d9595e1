"""Memory searches as I/O-free operations: fuzzy names, full text, vectors, and their
rank fusion."""

from __future__ import annotations

import math
from typing import Any

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput
from agentledger.memory import filters, spaces
from agentledger.memory.filters import Filter
from agentledger.memory.ops import entity_from_row
from agentledger.memory.records import SearchHit

Q = Queries.beside(__file__)
SPACES = Queries.beside(__file__, "spaces.sql")
RRF_K = 60
# Hybrid search ranks at most this many full-text matches (or 4x its candidate pool): a
# common word can match most of the table, and ranking all of it grows with the table.
TEXT_CANDIDATES = 1000
# Fuzzy name matching ranks at most this many candidates per pass (or 10x its limit): names
# holding a close word for every query word first, then for any (memory_fuzzy_v3, revisions
# memory_0004, memory_0006, memory_0009 and sessions_0003; docs/notes/fuzzy-names.md).
NAME_CANDIDATES = 128
# The HNSW candidate list (hnsw.ef_search) is at least this long: pgvector's default (40)
# loses recall on the benchmark's vectors (docs/benchmarks.md).
EF_SEARCH = 200
# A substring shorter than a trigram gives the trigram indexes nothing to look up.
MIN_SUBSTRING = 3


@operation(writes=False, primary_if="touch")
def find_by_name(
    name: str,
    *,
    threshold: float = 0.3,
    filter: Filter | None = None,
    limit: int = 10,
    touch: bool = False,
) -> Gen[list[SearchHit]]:
    """Fuzzy name match (pg_trgm): "Jon Smth" finds "John Smith"; names whose trigram similarity
    reaches ``threshold``, most similar first."""
    size = filters.limit(limit)
    checked = v.number("threshold", threshold, low=0.0, high=1.0)
    yield Q.prepare_fuzzy.none(feature="fuzzy name search")
    rows = yield Q.find_by_name.all(
        name=v.query("name", name),
        threshold=checked,
        cap=max(NAME_CANDIDATES, 10 * size),
        **filters.params(filter),
        limit=size,
    )
    return (yield from _hits(rows, touch, "fuzzy_score"))


@operation(writes=False, primary_if="touch")
def search_text(
    query: str, *, filter: Filter | None = None, limit: int = 10, touch: bool = False
) -> Gen[list[SearchHit]]:
    """Full-text search over name, summary and string attrs (web-search syntax: quotes, OR, -not),
    ranked, with highlights. The query is read in the language of each kind searched (the
    filter's kinds, else every language the tenant's kinds use), and each hit highlighted
    in its own."""
    rows = yield Q.search_text.all(
        query=v.query("query", query),
        **filters.params(filter),
        limit=filters.limit(limit),
    )
    return (yield from _hits(rows, touch, "text_score"))


@operation(writes=False, primary_if="touch")
def find_by_substring(
    text: str, *, filter: Filter | None = None, limit: int = 10, touch: bool = False
) -> Gen[list[SearchHit]]:
    r"""Entities whose name or summary holds ``text`` (3+ characters, case-insensitive, taken
    literally: "cme" finds "Acme Corp"; ``%``, ``_`` and ``\`` match themselves), name matches
    first (score 1, summary-only 0.5); trigram-indexed."""
    checked = v.query("text", text, min_len=MIN_SUBSTRING)
    rows = yield Q.find_by_substring.all(
        pattern=f"%{like_escape(checked)}%", **filters.params(filter), limit=filters.limit(limit)
    )
    return (yield from _hits(rows, touch, None))


def like_escape(text: str) -> str:
    """``text`` as a LIKE pattern matching itself: backslash escapes ``\\``, ``%`` and ``_``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@operation(writes=False, primary_if="touch")
def search_vector(
    embedding: Any,
    *,
    space: str | None = None,
    filter: Filter | None = None,
    limit: int = 10,
    touch: bool = False,
) -> Gen[list[SearchHit]]:
    """Nearest entities in ``space`` (None: the tenant's default space) by the space's
    distance, most similar first; exact when the index alone would fall short. The score
    is the cosine similarity, the inner product, or minus the L2 distance."""
    size = filters.limit(limit)
    vector = spaces.vector("embedding", embedding)
    name = None if space is None else spaces.space_name("space", space)
    found = yield SPACES.prepare_space_search.one(
        feature="vector search", ef_search=str(max(EF_SEARCH, size))
    )
    target = spaces.resolve(found["spaces"], name, "space")
    rows = yield Q.search_vector.all(
        space=target.id,
        embedding=spaces.check("embedding", vector, target),
        **filters.params(filter),
        limit=size,
    )
    return (yield from _hits(rows, touch, "vector_score"))


@operation(writes=False, primary_if="touch")
def search_hybrid(
    query: str,
    *,
    embedding: Any = None,
    space: str | None = None,
    filter: Filter | None = None,
    limit: int = 10,
    threshold: float = 0.3,
    touch: bool = False,
) -> Gen[list[SearchHit]]:
    """Text, fuzzy-name and (given an embedding, in ``space`` or the tenant's default
    space) vector ranks fused by reciprocal rank."""
    size = filters.limit(limit)
    pool = min(max(2 * size, 20), 2 * filters.MAX_LIMIT)
    checked = v.number("threshold", threshold, low=0.0, high=1.0)
    vector = None if embedding is None else spaces.vector("embedding", embedding)
    name = None if space is None else spaces.space_name("space", space)
    if vector is None and name is not None:
        raise InvalidInput("space names the space of embedding; give embedding", field="space")
    yield Q.prepare_fuzzy.none(feature="hybrid search")
    common = {
        "query": v.query("query", query),
        "threshold": checked,
        "cap": max(NAME_CANDIDATES, 10 * pool),
        **filters.params(filter),
        "limit": size,
        "pool": pool,
        "text_cap": max(TEXT_CANDIDATES, 4 * pool),
        "rrf_k": RRF_K,
    }
    if vector is None:
        rows = yield Q.search_hybrid.all(**common)
    else:
        found = yield SPACES.prepare_space_search.one(
            feature="hybrid vector search", ef_search=str(max(EF_SEARCH, pool))
        )
        target = spaces.resolve(found["spaces"], name, "space")
        rows = yield Q.search_hybrid_vector.all(
            **common, space=target.id, embedding=spaces.check("embedding", vector, target)
        )
    return (yield from _hits(rows, touch, None))


def _hits(rows: list[dict[str, Any]], touch: bool, signal: str | None) -> Gen[list[SearchHit]]:
    """Hits from ranked rows. A vector similarity that is not a number (an embedding of zero
    length stored before such vectors were refused) is no similarity: such a row is no
    vector hit, and in a fused ranking its vector score is None."""
    rows = [r for r in rows if signal is None or _finite(r["score"]) is not None]
    if touch and rows:
        yield Q.touch_entities.none(ids=[r["id"] for r in rows])
    hits = []
    for r in rows:
        scores = {k: _finite(r.get(k)) for k in ("text_score", "fuzzy_score", "vector_score")}
        if signal is not None:
            scores[signal] = r["score"]
        hits.append(
            SearchHit(
                entity=entity_from_row(r), score=r["score"], highlight=r.get("highlight"), **scores
            )
        )
    return hits


def _finite(score: float | None) -> float | None:
    return score if score is not None and math.isfinite(score) else None
