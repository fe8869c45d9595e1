"""JSON Schema for catalog documents: checking a schema on registration, content against it.

Schemas are checked against their own metaschema (the draft their ``$schema`` names,
2020-12 when it names none); a ``$schema`` jsonschema does not know is refused. References
(``$ref``) must point inside the schema (``#...``): the catalog never fetches a schema from
elsewhere, so validation reads no file and no network. The formats jsonschema checks
without optional packages (date, email, ipv4, uuid, regex...) are checked. Patterns are
matched within a time budget (patterns.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import referencing
import referencing.exceptions
from jsonschema import Draft201909Validator, Draft202012Validator, exceptions, validators
from jsonschema.protocols import Validator

from agentledger import validation as v
from agentledger.catalog import patterns
from agentledger.catalog.records import MAX_CONTENT_BYTES, MAX_SCHEMA_BYTES
from agentledger.errors import InvalidInput

# Keys whose values are data, not schemas: a "$ref" inside them is not a reference.
_DATA_KEYS = frozenset({"enum", "const", "default", "examples"})
_MESSAGE_CHARS = 300


def _cut(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def content_json(content: object, *, field: str = "content") -> str:
    """``content`` as the JSON text to store: any JSON value but null, without NUL
    characters or lone surrogates, within MAX_CONTENT_BYTES."""
    if content is None:
        raise InvalidInput(f"{field} must be a JSON value, not null", field=field)
    return _json_text(field, content, MAX_CONTENT_BYTES)


def _json_text(field: str, value: object, max_bytes: int) -> str:
    v.json_value(field, value, max_bytes=max_bytes)
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{field} holds text that is not valid UTF-8 (a lone surrogate)", field=field
        ) from None
    if size > max_bytes:
        raise InvalidInput(
            f"{field} is {size} bytes of JSON; the limit is {max_bytes}", field=field
        )
    return text


def validator_class(schema: Mapping[str, Any]) -> type[Validator]:
    """The validator for the draft ``$schema`` names (2020-12 without one)."""
    uri = schema.get("$schema")
    if uri is not None and not isinstance(uri, str):
        raise InvalidInput("schema's $schema must be a string", field="schema.$schema")
    found = validators.validator_for(schema, default=Draft202012Validator)
    # validator_for answers its default for a $schema it does not know: two different
    # defaults tell a known draft from an unknown one.
    if "$schema" in schema and found is not validators.validator_for(
        schema, default=Draft201909Validator
    ):
        raise InvalidInput(
            f"schema names an unknown $schema {schema['$schema']!r}", field="schema.$schema"
        )
    return found


def check_schema(schema: object) -> tuple[dict[str, Any], str]:
    """``schema`` as a registrable JSON Schema and its JSON text; InvalidInput naming the
    path in the schema and the metaschema's rule it breaks."""
    if not isinstance(schema, Mapping):
        raise InvalidInput(
            f"schema must be a JSON object, not {type(schema).__name__}", field="schema"
        )
    text = _json_text("schema", schema, MAX_SCHEMA_BYTES)
    found = dict(schema)
    cls = validator_class(found)
    try:
        cls.check_schema(found)  # the metaschema, its formats too (a pattern is a regex)
    except exceptions.SchemaError as error:
        raise _broken("schema", error, "its metaschema") from None
    entries = list(_entries(found))
    for path, key, ref in entries:
        if key in ("$ref", "$dynamicRef") and isinstance(ref, str) and not ref.startswith("#"):
            raise InvalidInput(
                f"schema{path} refers to {ref!r}: only references within the schema (#...) "
                "are allowed",
                field=f"schema{path}",
            )
    if {"unevaluatedProperties", "patternProperties"} <= {key for _, key, _ in entries}:
        raise InvalidInput(  # the first matches the second's patterns unbounded (patterns.py)
            "schema uses unevaluatedProperties and patternProperties together, which the "
            "catalog does not take: write additionalProperties, or name the properties",
            field="schema",
        )
    return found, text


def _entries(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of a schema's objects, outside data values."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            yield here, key, value
            if key not in _DATA_KEYS:
                yield from _entries(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _entries(item, f"{path}[{i}]")


def validate(content: Any, schema: Mapping[str, Any], *, doc_type: str, is_global: bool) -> None:
    """Nothing when ``content`` satisfies ``schema``; else InvalidInput naming the path in
    the content (``content.steps[0].action``) and the rule it breaks (``enum``)."""
    owner = "global" if is_global else "tenant's"
    cls = patterns.bounded(validator_class(schema))
    checker = cls(schema, format_checker=cls.FORMAT_CHECKER, registry=referencing.Registry())
    try:
        with patterns.budget():
            error = exceptions.best_match(checker.iter_errors(content))
    except patterns.TooSlow as slow:
        raise InvalidInput(
            f"content took more than {patterns.MATCH_SECONDS:g} s to match the patterns of the "
            f"{owner} schema for {doc_type} (the last: {_cut(str(slow))!r})",
            field="content",
        ) from None
    except referencing.exceptions.Unresolvable as exc:
        raise InvalidInput(
            f"the {owner} schema for {doc_type} has a reference that cannot be resolved: {exc}",
            field="content",
        ) from None
    if error is None:
        return
    raise _broken("content", error, f"the {owner} schema for {doc_type}")


def _broken(
    root: str, error: exceptions.SchemaError | exceptions.ValidationError, rules: str
) -> InvalidInput:
    """InvalidInput naming the path under ``root`` that ``error`` is at and the rule of
    ``rules`` it breaks."""
    path = error.json_path[1:]
    return InvalidInput(
        f"{root}{path} breaks the {error.validator!r} rule of {rules}: {_cut(error.message)}",
        field=f"{root}{path}",
        rule=str(error.validator),
    )
