"""A schema's subschemas as a graph: its references resolve, none of them loops.

jsonschema follows a reference (``$ref``, ``$dynamicRef``, ``$recursiveRef``) where it
meets one, and applies ``allOf``, ``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else``
and ``dependentSchemas`` (``dependencies``, ``extends``) to the same value. A chain of these
that comes back to where it started (``{"$ref": "#"}``) recurses until Python's stack runs
out, whatever the content; so does a reference to nothing or to a value that is not a
schema, the first time it is met. A chain that passes through ``properties``, ``items`` and
the like is fine (a tree of nodes): each time round it descends into a smaller part of the
content. The walk also gathers every ``pattern`` and ``patternProperties`` key (which the
metaschemas of drafts 3 and 4 leave unchecked), then compiles them as the catalog will
match them, within the patterns' budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft3Validator, Draft4Validator, Draft6Validator, Draft7Validator
from jsonschema.protocols import Validator

from agentledger.catalog import patterns
from agentledger.errors import InvalidInput

if TYPE_CHECKING:
    from referencing._core import Resolver

_REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords that apply their subschemas to the value itself: one, a list, or by name.
_ONE = frozenset({"not", "if", "then", "else", "extends"})
_LIST = frozenset({"allOf", "anyOf", "oneOf", "extends", "type", "disallow"})
_BY_NAME = frozenset({"dependentSchemas", "dependencies"})
# Before 2019-09 a $ref applies alone: jsonschema ignores the keywords beside it.
_REF_ALONE = frozenset({Draft3Validator, Draft4Validator, Draft6Validator, Draft7Validator})

# One step from a subschema to one applied to the same value: the step's place in the
# schema (schema.allOf[0], schema.$defs.a.$ref), the subschema, and its resolver.
_Step = tuple[str, dict[str, Any], "Resolver[Any]"]


def check(schema: dict[str, Any], cls: type[Validator]) -> None:
    """Nothing when every reference in ``schema`` resolves within it to a schema, no chain
    of references and in-place keywords comes back to where it started, and every
    ``patternProperties`` key is a pattern (patterns.compiled); else InvalidInput naming
    the place in the schema (and the cycle). ``schema`` is plain JSON, as parsed.
    patterns.TooSlow when compiling the patterns takes more than the budget."""
    walk = _Walk(schema, cls)
    walk.run()
    with patterns.budget():
        for pattern, field in walk.patterns.items():
            try:
                patterns.compiled(pattern)
            except patterns.BadPattern as bad:
                shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
                raise InvalidInput(
                    f"{field} holds {shown!r}, which is not a pattern the catalog can "
                    f"compile: {bad}",
                    field=field,
                ) from None


class _Walk:
    """A depth-first walk of the steps between subschemas, from every subschema."""

    def __init__(self, schema: dict[str, Any], cls: type[Validator]) -> None:
        self.cls = cls
        dialect = str(cls.META_SCHEMA.get("$schema", ""))
        self.spec = referencing.jsonschema.specification_with(
            dialect, default=referencing.jsonschema.DRAFT202012
        )
        root = self.spec.create_resource(schema)
        uri = root.id() or ""
        registry = referencing.Registry().with_resource(uri, root)
        # Crawled once, not at each anchor looked up; draft 3's "extends": {...} trips the
        # crawl, and jsonschema then crawls only to look an anchor up.
        with contextlib.suppress(AttributeError, TypeError):
            registry = registry.crawl()
        self.root: Resolver[Any] = registry.resolver(base_uri=uri)
        self.schema = schema
        self.places: dict[int, str] = {}
        _place_all(schema, "schema", self.places)
        self.done: set[int] = set()
        self.todo: list[tuple[dict[str, Any], Resolver[Any]]] = []
        self.patterns: dict[str, str] = {}  # each pattern, and the first place holding it

    def run(self) -> None:
        self.todo.append((self.schema, self.root))
        while self.todo:
            node, resolver = self.todo.pop()
            if id(node) not in self.done:
                self._from(node, resolver)

    def _from(self, start: dict[str, Any], resolver: Resolver[Any]) -> None:
        """Walk the steps from ``start``; InvalidInput on a step back onto the path."""
        path = [id(start)]  # the subschemas stepped through, each to the next by labels[i]
        on_path = {id(start): 0}
        labels: list[str] = []
        steps = [self._enter(start, resolver)]
        while steps:
            step = next(steps[-1], None)
            if step is None:
                del on_path[path[-1]]
                self.done.add(path.pop())
                steps.pop()
                if labels:
                    labels.pop()
                continue
            label, target, at = step
            if id(target) in self.done:
                continue
            back = on_path.get(id(target))
            if back is not None:
                cycle = " → ".join([*labels[back:], label, f"back to {self._place(target)}"])
                raise InvalidInput(
                    "schema has a cycle of references that never descends into the content, "
                    f"so no content could be checked against it: {cycle}",
                    field=label,
                )
            on_path[id(target)] = len(path)
            path.append(id(target))
            labels.append(label)
            steps.append(self._enter(target, at))

    def _enter(self, node: dict[str, Any], resolver: Resolver[Any]) -> Iterator[_Step]:
        """The steps from ``node``, its references resolved; its own subschemas queued."""
        here = self._place(node)
        if isinstance(node.get("pattern"), str):
            self.patterns.setdefault(node["pattern"], f"{here}.pattern")
        if isinstance(node.get("patternProperties"), dict):
            for key in node["patternProperties"]:
                self.patterns.setdefault(key, f"{here}.patternProperties")
        for child in self.spec.subresources_of(node):
            if isinstance(child, dict) and id(child) not in self.done:
                self.todo.append((child, self._inside(resolver, child)))
        applied = node.items()
        if self.cls in _REF_ALONE and "$ref" in node:
            applied = {"$ref": node["$ref"]}.items()
        steps: list[_Step] = []
        for key, value in applied:
            if key not in self.cls.VALIDATORS:
                continue
            if key in _REFERENCES and isinstance(value, str):
                target, at = self._resolve(f"{here}.{key}", value, resolver)
                if target is not None:
                    steps.append((f"{here}.{key}", target, at))
                continue
            for child in _applied(key, value):
                steps.append((self._place(child), child, self._inside(resolver, child)))
        return iter(steps)

    def _resolve(
        self, label: str, ref: str, resolver: Resolver[Any]
    ) -> tuple[dict[str, Any] | None, Resolver[Any]]:
        """What ``ref`` at ``label`` refers to (None: a boolean schema) and its resolver."""
        try:
            found = resolver.lookup(ref)
        except (referencing.exceptions.Unresolvable, LookupError, TypeError, ValueError):
            raise InvalidInput(
                f"{label} refers to {ref!r}, which is nowhere in the schema", field=label
            ) from None
        if isinstance(found.contents, bool):
            return None, found.resolver
        if not isinstance(found.contents, dict):
            raise InvalidInput(
                f"{label} refers to {ref!r}, which is a {type(found.contents).__name__}, "
                "not a schema",
                field=label,
            )
        return found.contents, found.resolver

    def _inside(self, resolver: Resolver[Any], child: dict[str, Any]) -> Resolver[Any]:
        return resolver.in_subresource(self.spec.create_resource(child))

    def _place(self, node: object) -> str:
        return self.places.get(id(node), "schema")


def _applied(key: str, value: Any) -> Iterator[dict[str, Any]]:
    """The subschemas keyword ``key`` (with ``value``) applies to the value itself."""
    if key in _ONE and isinstance(value, dict):
        yield value
    if key in _LIST and isinstance(value, list):
        yield from (each for each in value if isinstance(each, dict))
    if key in _BY_NAME and isinstance(value, dict):
        yield from (each for each in value.values() if isinstance(each, dict))


def _place_all(node: Any, place: str, places: dict[int, str]) -> None:
    """Record the place of every object and array in ``node`` (schema.$defs.a)."""
    if isinstance(node, dict):
        places[id(node)] = place
        for key, value in node.items():
            _place_all(value, f"{place}.{key}", places)
    elif isinstance(node, list):
        places[id(node)] = place
        for i, value in enumerate(node):
            _place_all(value, f"{place}[{i}]", places)
