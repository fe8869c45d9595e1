"""The memory graph as I/O-free operations: relationships, neighbours, traversal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput, NotFound
from agentledger.memory import filters
from agentledger.memory.ops import MAX_ATTRS_BYTES, entity_from_row
from agentledger.memory.records import Neighbour, PathStep, Relationship
from agentledger.records import from_row

Q = Queries.beside(__file__)
MAX_DEPTH = 6
DIRECTIONS = ("out", "in", "both")
# ``relationships`` takes at most this many entity ids per call.
MAX_IDS = 1000


@operation(idempotent=True)
def relate(
    from_id: UUID | str,
    to_id: UUID | str,
    type: str,
    *,
    weight: float = 1.0,
    attrs: Mapping[str, Any] | None = None,
    user: str | None = None,
    scope: str = "shared",
) -> Gen[Relationship]:
    """A typed, weighted edge, unique per (from, to, type): created, or updated in place (new
    weight, attrs merged).

    Types: led_to, relates_to, depends_on, produces, belongs_to, or any of your own (a tenant's
    vocabulary may restrict them). NotFound when an end does not exist in this tenant (or ``user``
    may not see it)."""
    source, target = v.uuid("from_id", from_id), v.uuid("to_id", to_id)
    if source == target:
        raise InvalidInput("an entity cannot relate to itself", field="to_id")
    row = yield Q.relate.one(
        from_id=source,
        to_id=target,
        type=v.text("type", type, max_len=100),
        weight=v.number("weight", weight, single=True),
        attrs=v.json_object("attrs", attrs, max_bytes=MAX_ATTRS_BYTES),
        **filters.scoped(user, scope),
    )
    if row is None:
        raise NotFound(
            f"entity {source} or {target} does not exist in this tenant"
            + (f" or is not visible to user {user!r}" if user else ""),
            field="from_id",
        )
    return from_row(Relationship, row)


@operation(idempotent=True)
def unrelate(from_id: UUID | str, to_id: UUID | str, type: str) -> Gen[bool]:
    count = yield Q.unrelate.rowcount(
        from_id=v.uuid("from_id", from_id),
        to_id=v.uuid("to_id", to_id),
        type=v.text("type", type, max_len=100),
    )
    return bool(count)


@operation(writes=False)
def neighbours(
    id: UUID | str,
    *,
    direction: str = "both",
    types: Sequence[str] | None = None,
    user: str | None = None,
    scope: str = "shared",
    limit: int = 100,
) -> Gen[list[Neighbour]]:
    """Entities one edge away (``direction`` out, in or both), heaviest edge first."""
    start = yield from _visible(id, user, scope)
    rows = yield Q.neighbours.all(id=start, **_walk(direction, types, user, scope, limit))
    return [
        Neighbour(
            entity=entity_from_row(r),
            relationship=Relationship(**{k[2:]: x for k, x in r.items() if k.startswith("r_")}),
            direction=r["direction"],
        )
        for r in rows
    ]


@operation(writes=False)
def relationships(
    ids: Sequence[UUID | str],
    *,
    user: str | None = None,
    scope: str = "shared",
    types: Sequence[str] | None = None,
    direction: str = "both",
    limit: int = 1000,
) -> Gen[list[Relationship]]:
    """The edges touching any of ``ids`` (at most 1000; ``direction`` out of them, into them or
    both), heaviest first, in one statement. With ``user``, only edges whose two ends the user
    may see. InvalidInput naming ``ids`` for a bad id or too many."""
    entity_ids = _ids(ids)
    rows = yield Q.relationships_of.all(
        ids=entity_ids, **_walk(direction, types, user, scope, limit)
    )
    return [from_row(Relationship, r) for r in rows]


@operation(writes=False)
def traverse(
    id: UUID | str,
    *,
    max_depth: int = 2,
    direction: str = "out",
    types: Sequence[str] | None = None,
    user: str | None = None,
    scope: str = "shared",
    limit: int = 1000,
) -> Gen[list[PathStep]]:
    """Entities within ``max_depth`` (1-6) edges, each once at its shortest depth (cycle-safe)."""
    start = yield from _visible(id, user, scope)
    walk = _walk(direction, types, user, scope, limit)
    depth = v.integer("max_depth", max_depth, low=1, high=MAX_DEPTH)
    rows = yield Q.traverse.all(id=start, max_depth=depth, **walk)
    return [
        PathStep(entity=entity_from_row(r), depth=r["depth"], path=list(r["path"]), via=r["via"])
        for r in rows
    ]


def _walk(
    direction: str, types: Sequence[str] | None, user: str | None, scope: str, limit: int
) -> dict[str, Any]:
    """The parameters every walk along edges takes: which way, which edge types, whose view
    of the entities, how many rows."""
    v.choice("direction", direction, DIRECTIONS)
    return {
        "out": direction in ("out", "both"),
        "in": direction in ("in", "both"),
        "types": _types(types),
        **filters.scoped(user, scope),
        "limit": filters.limit(limit),
    }


def _visible(id: UUID | str, user: str | None, scope: str) -> Gen[UUID]:
    entity_id = v.uuid("id", id)
    row = yield Q.get_entity.one(id=entity_id, **filters.scoped(user, scope))
    if row is None:
        raise NotFound(f"entity {id} does not exist", field="id")
    return entity_id


def _ids(ids: Sequence[UUID | str]) -> list[UUID]:
    ids = v.items("ids", ids, what="entity ids")
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"ids holds {len(ids)} ids; at most {MAX_IDS} a call", field="ids")
    return list(dict.fromkeys(v.uuid("ids", i) for i in ids))


def _types(types: Sequence[str] | None) -> list[str] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    return [v.text(f"types[{i}]", t, max_len=100) for i, t in enumerate(types)]
