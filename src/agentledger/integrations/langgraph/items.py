"""How LangGraph store items map onto memory entities, and back (I/O-free).

An item ``(namespace, key) -> value`` is the entity of natural key ``(source, key)`` where
``source`` is ``"langgraph:"`` and the namespace's labels joined by ``"."`` (labels never
hold a period, so the joining is reversible). The value is the entity's attrs, whole; its
tags are the namespace's prefixes (``"langgraph:a"``, ``"langgraph:a.b"``, ...), which a
search's namespace prefix filters on; its name is the key; its summary the text that was
embedded. The store's ``kind`` marks its entities, and its ``user`` owns them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.store.base import Item, MatchCondition, SearchItem
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from agentledger import validation as v
from agentledger.errors import InvalidInput
from agentledger.memory.filters import Where
from agentledger.memory.records import Entity

SOURCE_PREFIX = "langgraph:"
DEFAULT_KIND = "langgraph"
# memory's limit on a source (and on a tag): the joined namespace fits with its prefix.
MAX_SOURCE = 200
OPERATORS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
# Past any label that follows a namespace's labels: the key to skip all its descendants.
PAST_DESCENDANTS = ".\U0010ffff"


def source(namespace: Sequence[str]) -> str:
    """The entity source of a namespace (InvalidInput naming ``namespace`` when too long)."""
    text = SOURCE_PREFIX + ".".join(namespace)
    if len(text) > MAX_SOURCE:
        raise InvalidInput(
            f"namespace {tuple(namespace)!r} joins to {len(text) - len(SOURCE_PREFIX)} "
            f"characters; the limit is {MAX_SOURCE - len(SOURCE_PREFIX)}",
            field="namespace",
        )
    return text


def namespace(source_text: str) -> tuple[str, ...]:
    """The namespace an entity source stands for."""
    return tuple(source_text.removeprefix(SOURCE_PREFIX).split("."))


def prefix_tags(ns: Sequence[str]) -> list[str]:
    """The tags of an item in ``ns``: one per prefix of the namespace, itself included."""
    return [source(ns[: i + 1]) for i in range(len(ns))]


def paths(field: str, value: object) -> list[str]:
    """Field paths to embed (``fields``, a put's ``index``): a list of them, never one string
    taken for its characters."""
    listed = v.items(field, value, what="field paths")
    return [v.text(f"{field}[{i}]", p, max_len=500) for i, p in enumerate(listed)]


def index_text(value: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The text embedded for a value: the text at each field path (``"$"`` for the whole
    value as JSON), joined by line breaks; empty when no path holds any."""
    texts: list[str] = []
    for path in fields:
        texts.extend(get_text_at_path(value, path if path == "$" else tokenize_path(path)))
    return "\n".join(texts)


def conditions(where: Mapping[str, Any] | None) -> tuple[list[Where], dict[str, Any]]:
    """A LangGraph filter as memory's typed comparisons and attrs containment.

    ``{"k": 3}`` and ``{"k": {"$gt": 3}}`` compare typed values: numbers as numbers,
    strings as strings. An object or a list as the value (or as ``$eq``'s) matches by
    containment: the stored value holds it. ``$ne`` takes a scalar.
    """
    compared: list[Where] = []
    contained: dict[str, Any] = {}
    for key, value in (where or {}).items():
        if isinstance(value, dict) and any(str(k).startswith("$") for k in value):
            for op, operand in value.items():
                if op not in OPERATORS:
                    raise InvalidInput(
                        f"filter {key!r}: operator {op!r} is not one of {', '.join(OPERATORS)}",
                        field="filter",
                    )
                if op == "$eq" and _structured(operand):
                    contained[key] = operand
                elif _structured(operand) or operand is None:
                    raise InvalidInput(
                        f"filter {key!r}: {op} compares with a number, string or boolean",
                        field="filter",
                    )
                else:
                    compared.append((key, OPERATORS[op], operand))
        elif _structured(value) or value is None:
            contained[key] = value
        else:
            compared.append((key, "=", value))
    return compared, contained


def matches(condition: MatchCondition, ns: tuple[str, ...]) -> bool:
    """Whether a namespace meets a list_namespaces condition (``"*"`` matches any label)."""
    path = tuple(condition.path)
    if len(ns) < len(path):
        return False
    labels = ns[: len(path)] if condition.match_type == "prefix" else ns[len(ns) - len(path) :]
    return all(want in ("*", have) for want, have in zip(path, labels, strict=True))


def literal_prefix(match_conditions: Sequence[MatchCondition] | None) -> tuple[str, ...]:
    """The longest run of labels every listed namespace starts with: the labels before the
    first wildcard of the longest prefix condition."""
    best: tuple[str, ...] = ()
    for condition in match_conditions or ():
        if condition.match_type != "prefix":
            continue
        labels: list[str] = []
        for label in condition.path:
            if label == "*":
                break
            labels.append(label)
        if len(labels) > len(best):
            best = tuple(labels)
    return best


def item(entity: Entity) -> Item:
    return Item(
        value=entity.attrs,
        key=entity.key or entity.name,
        namespace=namespace(entity.source),
        created_at=entity.created_at,
        updated_at=entity.updated_at,
    )


def search_item(entity: Entity, score: float | None = None) -> SearchItem:
    return SearchItem(
        namespace=namespace(entity.source),
        key=entity.key or entity.name,
        value=entity.attrs,
        created_at=entity.created_at,
        updated_at=entity.updated_at,
        score=score,
    )


def _structured(value: object) -> bool:
    return isinstance(value, dict | list | tuple)
