"""JSON Schema for catalog documents: checking a schema on registration, content against it.

Schemas are checked against their own metaschema (the draft their ``$schema`` names,
2020-12 when it names none); a ``$schema`` jsonschema does not know is refused. References
(``$ref``) must point inside the schema (``#...``): the catalog never fetches a schema from
elsewhere, so validation reads no file and no network. They must resolve to a schema, and
must not loop without descending into the content (subschemas.py). The formats jsonschema
checks without optional packages (date, email, ipv4, uuid, regex...) are checked. Patterns
are compiled within bounds and matched within a time budget (patterns.py), ``uniqueItems``
is checked in linear time (uniqueness.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import referencing
import referencing.exceptions
from jsonschema import Draft201909Validator, Draft202012Validator, exceptions, validators
from jsonschema.protocols import Validator

from agentledger import validation as v
from agentledger.catalog import patterns, subschemas
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
    path in the schema and the metaschema's rule it breaks (or what else is wrong there)."""
    if not isinstance(schema, Mapping):
        raise InvalidInput(
            f"schema must be a JSON object, not {type(schema).__name__}", field="schema"
        )
    text = _json_text("schema", schema, MAX_SCHEMA_BYTES)
    found = dict(schema)
    cls = validator_class(found)
    try:
        _check_parts(json.loads(text), cls)
    except patterns.TooSlow as slow:
        raise InvalidInput(
            f"schema's patterns took more than {patterns.MATCH_SECONDS:g} s to compile: they "
            f"are too many or too big (the last: {_cut(str(slow))!r})",
            field="schema",
        ) from None
    except RecursionError:
        raise InvalidInput("schema nests too deeply to be checked", field="schema") from None
    return found, text


@functools.cache
def _metaschema_checker(cls: type[Validator]) -> Validator:
    """A validator of schemas for ``cls`` against its metaschema, with the catalog's
    bounded keywords and its ``regex`` format (patterns.py)."""
    meta = patterns.bounded(validators.validator_for(cls.META_SCHEMA, default=cls))
    return meta(cls.META_SCHEMA, format_checker=patterns.format_checker(meta))


def _check_parts(found: dict[str, Any], cls: type[Validator]) -> None:
    """InvalidInput for the first thing wrong in ``found`` (plain JSON), a schema for
    ``cls``: against the metaschema, then its references and pattern keys."""
    error = next(iter(_metaschema_checker(cls).iter_errors(found)), None)
    if error is not None:  # the metaschema's formats too: a pattern is a regex
        raise _broken("schema", error, "its metaschema")
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
    subschemas.check(found, cls)


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
    checker = cls(
        schema, format_checker=patterns.format_checker(cls), registry=referencing.Registry()
    )
    try:
        with patterns.budget():
            error = exceptions.best_match(checker.iter_errors(content))
    except patterns.TooSlow as slow:
        raise InvalidInput(
            f"content took more than {patterns.MATCH_SECONDS:g} s to match the patterns of the "
            f"{owner} schema for {doc_type} (the last: {_cut(str(slow))!r})",
            field="content",
        ) from None
    except patterns.BadPattern as bad:
        raise InvalidInput(
            f"the {owner} schema for {doc_type} has a pattern the catalog cannot compile: {bad}",
            field="content",
        ) from None
    except referencing.exceptions.Unresolvable as exc:
        raise InvalidInput(
            f"the {owner} schema for {doc_type} has a reference that cannot be resolved: {exc}",
            field="content",
        ) from None
    except RecursionError:  # a schema stored before cycles were refused, or deep content
        raise InvalidInput(
            f"content could not be checked against the {owner} schema for {doc_type}: its "
            "references nest too deeply (or loop without descending into the content)",
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
    why = "" if error.cause is None else f" ({_cut(str(error.cause))})"
    return InvalidInput(
        f"{root}{path} breaks the {error.validator!r} rule of {rules}: {_cut(error.message)}{why}",
        field=f"{root}{path}",
        rule=str(error.validator),
    )
