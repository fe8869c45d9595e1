"""A tenant's embedding spaces (memory_0013): declaring, listing and choosing them, and
resolving the space a vector belongs to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v, vectors
from agentledger.db.statements import Gen, Queries, operation
from agentledger.db.types import Uuids, Vector, Vectors
from agentledger.errors import Conflict, InvalidInput, NotFound
from agentledger.memory import filters
from agentledger.memory.records import EMBEDDING_DIMENSIONS, EmbeddingSpace, NewEntity

Q = Queries.beside(__file__, "spaces.sql")
ENTITIES = Queries.beside(__file__)
BUILTIN = "default"
DISTANCES = ("cosine", "inner_product", "l2")
# The most dimensions pgvector's HNSW index takes for each element type.
ELEMENT_LIMITS = {"vector": 2000, "halfvec": 4000}
# A binary-quantised space's index holds bits (HNSW: up to 64,000); its vectors, up to
# 16,000 numbers (the most a pgvector vector holds).
QUANTIZATIONS = ("none", "binary")
BINARY_LIMIT = 16_000
_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,99}")
_NAME_RULE = (
    "a space name: lower-case letters, digits and _ . : - (starting with a letter or digit), "
    "up to 100 characters"
)


def space_name(field: str, value: object) -> str:
    """A space's name: lower-case letters, digits and ``_ . : -``, up to 100 characters."""
    return v.matching(field, value, _NAME, max_len=100, what=_NAME_RULE)


@operation()
def declare(
    name: str,
    *,
    dimensions: int,
    distance: str = "cosine",
    element: str = "vector",
    model: str = "",
    default: bool = False,
    quantization: str = "none",
    rerank: int = 10,
) -> Gen[EmbeddingSpace]:
    """Declare a space and build its HNSW index (a new space's index is empty; building it
    reads the vectors table once). Declaring it again with the same definition returns it;
    with another: Conflict naming the field that differs. ``default=True`` also makes it
    the tenant's default space. ``quantization="binary"`` indexes the signs' bits instead
    of the vectors (up to 16,000 dimensions); its searches take ``rerank`` candidates per
    hit by Hamming distance and re-rank them by the exact distance."""
    checked = space_name("name", name)
    if checked == BUILTIN:
        raise InvalidInput(f"the space {BUILTIN!r} is built in; choose another name", field="name")
    kind = v.choice("element", element, ELEMENT_LIMITS)
    quantized = v.choice("quantization", quantization, QUANTIZATIONS)
    limit = BINARY_LIMIT if quantized == "binary" else ELEMENT_LIMITS[kind]
    dims = v.integer("dimensions", dimensions)
    if not 1 <= dims <= limit:
        raise InvalidInput(
            f"dimensions is {dims}; "
            + (
                f"a binary-quantised space takes 1 to {limit}"
                if quantized == "binary"
                else f"an HNSW index of {kind} takes 1 to {limit}"
            )
            + (
                " (use element='halfvec' for up to 4000, or quantization='binary' for up to "
                f"{BINARY_LIMIT})"
                if quantized == "none" and dims <= BINARY_LIMIT
                else ""
            ),
            field="dimensions",
        )
    wanted = {
        "dimensions": dims,
        "distance": v.choice("distance", distance, DISTANCES),
        "element": kind,
        "model": v.text("model", model, max_len=200, min_len=0),
        "quantization": quantized,
        "rerank": v.integer("rerank", rerank, low=1, high=100),
    }
    yield Q.require_extension.none(extension="vector", feature="embedding spaces")
    row = yield Q.declare_space.one(name=checked, **wanted)
    for field, value in wanted.items():
        if row[field] != value:
            raise Conflict(
                f"space {checked!r} exists with {field} {row[field]!r}, not {value!r}; "
                "declare a space of another name",
                field=field,
            )
    if default and not row["is_default"]:
        return (yield from set_default(checked).start())
    return _space(row)


@operation()
def set_default(name: str) -> Gen[EmbeddingSpace]:
    """Make ``name`` the space an embedding without a named space goes to (and that searches
    use when none is named); "default" is the built-in space."""
    checked = space_name("name", name)
    # One change at a time per tenant, so that the last caller's space is the default. The
    # lock is a statement of its own (sent with the BEGIN, when it opens the transaction):
    # the change's snapshot, taken once it holds the lock, then shows the change before.
    yield Q.lock_default_space.none()
    row = yield Q.set_default_space.one(name=None if checked == BUILTIN else checked)
    if checked == BUILTIN:
        return builtin(default=True)
    if row is None:
        yield from _unknown("name", checked)
    return _space(row)


@operation()
def drop(name: str) -> Gen[bool]:
    """Drop a declared space with its vectors and index; False when there was none. The
    built-in space cannot be dropped."""
    checked = space_name("name", name)
    if checked == BUILTIN:
        raise InvalidInput(f"the space {BUILTIN!r} is built in", field="name")
    yield Q.require_extension.none(extension="vector", feature="embedding spaces")
    dropped: bool = yield Q.drop_space.scalar(name=checked)
    return dropped


@operation(writes=False)
def list_() -> Gen[list[EmbeddingSpace]]:
    """The built-in space, then the declared ones by name."""
    rows = yield Q.list_spaces.all()
    declared = [_space(r) for r in rows]
    return [builtin(default=not any(s.default for s in declared)), *declared]


def builtin(*, default: bool) -> EmbeddingSpace:
    return EmbeddingSpace(
        id=None,
        name=BUILTIN,
        model="",
        dimensions=EMBEDDING_DIMENSIONS,
        distance="cosine",
        element="vector",
        default=default,
        builtin=True,
    )


def resolve(rows: Sequence[Mapping[str, Any]], name: str | None, field: str) -> EmbeddingSpace:
    """The space named ``name`` among the tenant's (``rows`` from ``vector_spaces``), or its
    default space when None. InvalidInput naming ``field`` and the known spaces when none
    has that name."""
    declared = [_space(r) for r in rows]
    if name is None:
        return next((s for s in declared if s.default), None) or builtin(default=True)
    if name == BUILTIN:
        return builtin(default=not any(s.default for s in declared))
    for space in declared:
        if space.name == name:
            return space
    known = ", ".join([BUILTIN, *sorted(s.name for s in declared)])
    raise InvalidInput(
        f"{field} {name!r} is not an embedding space of this tenant; it has: {known}",
        field=field,
    )


def vector(field: str, value: object) -> Vector:
    """``value`` checked as a vector (``vectors.vector``), ready to travel in binary."""
    return Vector(vectors.vector(field, value))


def check(field: str, vector: Vector, space: EmbeddingSpace) -> Vector:
    """``vector`` when it has the space's dimension; InvalidInput naming both otherwise."""
    if vector.dimensions != space.dimensions:
        raise InvalidInput(
            f"{field} has {vector.dimensions} dimensions; space {space.name!r}"
            + (f" ({space.model})" if space.model else "")
            + f" holds {space.dimensions}",
            field=field,
        )
    return vector


def _unknown(field: str, name: str) -> Gen[None]:
    rows = yield Q.list_spaces.all()
    resolve(rows, name, field)  # raises, naming the spaces there are


def _space(row: Mapping[str, Any]) -> EmbeddingSpace:
    return EmbeddingSpace(
        id=row["id"],
        name=row["name"],
        model=row["model"],
        dimensions=row["dimensions"],
        distance=row["distance"],
        element=row["element"],
        default=row["is_default"],
        quantization=row["quantization"],
        rerank=row["rerank"],
    )


# --- re-embedding -----------------------------------------------------------------------


@operation()
def add_vectors(space: str, ids: Sequence[UUID], embeddings: Sequence[Any]) -> Gen[int]:
    """Store vectors in ``space`` for entities that have none there (a vector written
    meanwhile wins; a deleted entity is skipped): how many were stored."""
    name = space_name("space", space)
    if len(ids) != len(embeddings):
        raise InvalidInput(f"{len(embeddings)} vectors for {len(ids)} entities", field="embeddings")
    packed = [vector(f"embeddings[{i}]", e) for i, e in enumerate(embeddings)]
    found = yield Q.vector_spaces.one(feature="re-embedding")
    target = resolve(found["spaces"], name, "space")
    for i, item in enumerate(packed):
        check(f"embeddings[{i}]", item, target)
    stored: int = yield Q.add_space_vectors.rowcount(
        space=target.id, ids=Uuids(v.uuid("ids", x) for x in ids), embeddings=Vectors(packed)
    )
    return stored


@operation(writes=False)
def embedding(
    id: UUID | str, *, space: str | None = None, user: str | None = None, scope: str = "shared"
) -> Gen[Any]:
    """The entity's vector in ``space`` (None: the tenant's default space), as a float32
    numpy array when numpy is installed, else a list of floats; None when it has none there.
    NotFound when the entity does not exist or the user may not see it."""
    entity_id = v.uuid("id", id)
    name = None if space is None else space_name("space", space)
    found = yield Q.vector_spaces.one(feature="entity embeddings")
    target = resolve(found["spaces"], name, "space")
    row = yield ENTITIES.get_embedding.one(
        id=entity_id, space=target.id, **filters.scoped(user, scope)
    )
    if row is None:
        raise NotFound(f"entity {id} does not exist", field="id")
    return row["embedding"]


# An upsert row's vectors: one mapping per input merged into the row (a batch's repeats of
# one entity), in input order, of each vector by the space name given (None: the default
# space) with its field.
Layers = list[dict[str | None, tuple[str, Vector]]]


def entity_vectors(e: NewEntity) -> Layers:
    """The entity's vectors, each checked as a vector and kept with its field, as one layer
    (none when it gives no vector); their spaces are resolved and their dimensions checked
    once the spaces are read (``placed``)."""
    out: dict[str | None, tuple[str, Vector]] = {}
    if e.embedding is not None:
        space = None if e.space is None else space_name("space", e.space)
        out[space] = ("embedding", vector("embedding", e.embedding))
    elif e.space is not None:
        raise InvalidInput("space names the space of embedding; give embedding", field="space")
    if e.embeddings is not None:
        if not isinstance(e.embeddings, Mapping):
            raise InvalidInput("embeddings must map space names to vectors", field="embeddings")
        for name, value in e.embeddings.items():
            field = f"embeddings[{name!r}]"
            checked = space_name(field, name)
            if checked in out:
                raise InvalidInput(f"{field}: a second vector for one space", field=field)
            out[checked] = (field, vector(field, value))
    return [out] if out else []


def unnamed(layers: Layers) -> bool:
    """Every vector of an upsert row is given without a space."""
    return all(set(layer) == {None} for layer in layers)


def placed(
    rows: Sequence[Mapping[str, Any]], declared: Sequence[Mapping[str, Any]]
) -> list[dict[str, tuple[EmbeddingSpace, Vector]]]:
    """Each upsert row's vectors by the name of the space they go to, among the tenant's
    (``declared``, from ``vector_spaces``), each checked against its space.

    Names resolve first: a vector without a space and one named by the default space's
    name go to the same space. Two of one input for one space: InvalidInput naming the
    second's field. An input merged into the row later replaces an earlier one's vector.
    """
    targets: dict[str | None, EmbeddingSpace] = {}
    out: list[dict[str, tuple[EmbeddingSpace, Vector]]] = []
    for row in rows:
        vectors: dict[str, tuple[EmbeddingSpace, Vector]] = {}
        for layer in row["embedding"]:
            given: dict[str, str] = {}  # this input's fields, by space
            for name, (field, value) in layer.items():
                if name not in targets:  # named by "space" for "embedding", else by its key
                    where = "space" if field == "embedding" else field
                    targets[name] = resolve(declared, name, where)
                space = targets[name]
                if space.name in given:
                    raise InvalidInput(
                        f"{field} is a second vector for space {space.name!r}"
                        f" (beside {given[space.name]}); give one",
                        field=field,
                    )
                given[space.name] = field
                vectors[space.name] = (space, check(field, value, space))
        out.append(vectors)
    return out


def builtin_vector(vectors: Mapping[str, tuple[EmbeddingSpace, Vector]]) -> Vector | None:
    """A row's vector in the built-in space (``placed``), None when it has none there."""
    return next((value for space, value in vectors.values() if space.id is None), None)


def implied(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of ``upsert_entities_implied`` for upsert rows whose vectors are all
    given without a space: the vectors aligned with the rows (the latest input's, for a row
    several inputs merged into), and every vector's dimension and field, in row order, for
    the statement to check."""
    given = [r["embedding"][-1][None] if r["embedding"] else None for r in rows]
    checked = [layer[None] for r in rows for layer in r["embedding"]]  # replaced ones too
    return {
        "embeddings": Vectors(None if g is None else g[1] for g in given),
        "dimensions": [g[1].dimensions for g in checked],
        "fields": [g[0] for g in checked],
    }
