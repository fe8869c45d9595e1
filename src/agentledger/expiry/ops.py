"""Expiry of memory entities as I/O-free operations: give entities a time to live, read
them while it holds (refreshing it on demand), and sweep out those whose time ran out.

LangGraph's store (``agentledger.integrations.langgraph``) puts its TTLs here. The reads
are memory's (same scopes, filters, order and rows) minus the entities whose TTL has run
out, so an expired entity is gone from them before any sweep deletes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput
from agentledger.expiry.records import Found
from agentledger.memory import filters, spaces
from agentledger.memory.filters import Filter
from agentledger.memory.keys import natural_dedup
from agentledger.memory.ops import entity_from_row
from agentledger.memory.search import EF_SEARCH
from agentledger.memory.spaces import Q as MEMORY_SPACES

Q = Queries.beside(__file__)
MAX_IDS = 50_000
MAX_SWEEP_BATCH = 10_000
MINUTES_A_YEAR = 525_960  # 365.25 days
# The longest TTL: now() plus it must stay a timestamptz (up to year 294276) and its interval
# in range (2^63 microseconds, about 292,000 years), whatever "now" is for a long time yet.
MAX_TTL_MINUTES = 50_000_000_000


@operation(idempotent=True)
def set_ttls(ids: Sequence[UUID], ttls: Sequence[float]) -> Gen[int]:
    """Give each entity its TTL in minutes (positive), counted from now; the TTL holds until
    the entity is written again. Returns how many entities exist to take one."""
    listed = v.items("ids", ids, what="entity ids", max_items=MAX_IDS)
    minutes = [ttl_minutes(ttl) for ttl in v.items("ttls", ttls, what="TTLs in minutes")]
    if len(listed) != len(minutes):
        raise InvalidInput("ids and ttls differ in length", field="ttls")
    count: int = yield Q.set_ttls.rowcount(
        ids=[v.uuid("ids", i) for i in listed], ttls=minutes
    ).alone()
    return count


@operation(writes=False)
def get_by_key(key: str, *, source: str = "", user: str | None = None) -> Gen[Found | None]:
    """memory's ``get_by_key`` by natural key, None once the entity's TTL has run out."""
    row = yield Q.get_entity.one(
        owner=filters.user_id(user) or "", dedup_key=natural_dedup(key, source, None, None)
    ).alone()
    return None if row is None else _found(row)


@operation(writes=False)
def list_(filter: Filter | None = None, *, limit: int = 100) -> Gen[list[Found]]:
    """memory's ``list`` (newest change first), without entities whose TTL has run out."""
    rows = yield Q.list_entities.all(**filters.params(filter), limit=filters.limit(limit)).alone()
    return [_found(r) for r in rows]


@operation(writes=False)
def search_vector(
    embedding: Sequence[float], *, filter: Filter | None = None, limit: int = 10
) -> Gen[list[Found]]:
    """memory's ``search_vector`` in the built-in space, without entities whose TTL has run
    out."""
    size = filters.limit(limit)
    vector = spaces.check(
        "embedding", spaces.vector("embedding", embedding), spaces.builtin(default=True)
    )
    yield MEMORY_SPACES.prepare_space_search.none(
        feature="vector search", ef_search=str(max(EF_SEARCH, size))
    )
    rows = yield Q.search_vector.all(embedding=vector, **filters.params(filter), limit=size)
    return [_found(r) for r in rows if r["score"] is not None and math.isfinite(r["score"])]


@operation(writes=False)
def sources(
    prefix: str = "",
    *,
    kind: str | None = None,
    user: str | None = None,
    scope: str = "shared",
    after: str | None = None,
    limit: int = 100,
) -> Gen[list[str]]:
    """memory's ``sources``, counting only entities whose TTL has not run out."""
    arguments = filters.source_arguments(prefix, kind, user, scope, after, limit)
    rows = yield Q.entity_sources.all(**arguments).alone()
    return [r["source"] for r in rows]


@operation(idempotent=True)
def refresh(ids: Sequence[UUID]) -> Gen[int]:
    """Restart the TTL of these entities (those whose TTL has not run out); how many."""
    listed = v.items("ids", ids, what="entity ids", max_items=MAX_IDS)
    count: int = yield Q.refresh.rowcount(ids=[v.uuid("ids", i) for i in listed]).alone()
    return count


@operation(idempotent=True)
def sweep_batch(batch_size: int = 1000) -> Gen[tuple[int, int]]:
    """Delete up to ``batch_size`` entities whose TTL has run out (with their relationships),
    dropping stale TTLs on the way: (entities deleted, TTL rows taken)."""
    size = v.integer("batch_size", batch_size, low=1, high=MAX_SWEEP_BATCH)
    row = yield Q.sweep.one(batch=size).alone()
    return (row["deleted"], row["seen"]) if row is not None else (0, 0)


def ttl_minutes(ttl: object) -> float:
    """A TTL as set_ttls takes it: more than 0 and at most ``MAX_TTL_MINUTES`` minutes
    (InvalidInput naming ``ttl`` otherwise)."""
    if ttl is None or isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise InvalidInput(f"ttl must be a number of minutes, not {ttl!r}", field="ttl")
    # Compared before any float(): an int too large for a double is simply out of range.
    if (isinstance(ttl, float) and math.isnan(ttl)) or ttl <= 0:
        raise InvalidInput(
            f"ttl is {v.shown(ttl)}; it must be a positive number of minutes", field="ttl"
        )
    if ttl > MAX_TTL_MINUTES:
        raise InvalidInput(
            f"ttl is {v.shown(ttl)}; it must be at most {MAX_TTL_MINUTES:,} minutes (about "
            f"{round(MAX_TTL_MINUTES / MINUTES_A_YEAR, -3):,.0f} years)",
            field="ttl",
        )
    return float(ttl)


def _found(row: dict[str, object]) -> Found:
    ttl = row["ttl_minutes"]
    score = row.get("score")
    return Found(
        entity=entity_from_row(row),
        score=score if isinstance(score, float) else None,
        ttl_minutes=ttl if isinstance(ttl, float) else None,
    )
