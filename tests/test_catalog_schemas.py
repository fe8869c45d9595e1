"""Catalog schemas that would break every write: reference cycles, references to nothing,
patterns no engine compiles, and ``uniqueItems`` over large arrays."""

from __future__ import annotations

from typing import Any

import jsonschema
import jsonschema._utils
import pytest

from agentledger import InvalidInput, Ledger, NotFound
from agentledger.catalog import schemas

TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
        }
    },
    "$ref": "#/$defs/node",
}


def _refused(catalog: Any, doc_type: str, schema: dict[str, Any]) -> InvalidInput:
    """The refusal of registering ``schema`` for ``doc_type``, which stays unregistered."""
    with pytest.raises(InvalidInput) as refused:
        catalog.register_schema(doc_type, schema)
    with pytest.raises(NotFound):
        catalog.get_schema(doc_type)
    return refused.value


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"$ref": "#"}, "schema.$ref"),
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "schema.$defs.a.$ref"),
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                "$ref": "#/$defs/a",
            },
            "schema.$defs.b.$ref",
        ),
        ({"type": "object", "allOf": [{"$ref": "#"}]}, "schema.allOf[0].$ref"),
        ({"$defs": {"a": {"$anchor": "me", "not": {"$ref": "#me"}}}}, "schema.$defs.a.not.$ref"),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "dependencies": {"x": {"$ref": "#"}},
            },
            "schema.dependencies.x.$ref",
        ),
    ],
)
def test_a_reference_cycle_is_refused_when_the_schema_is_registered(
    ledger: Ledger, tenant_id: str, schema: dict[str, Any], field: str
) -> None:
    """Each of these makes jsonschema recurse until the stack runs out, on any content: a
    global one would break every tenant's writes of the type."""
    catalog = ledger.tenant(tenant_id).catalog
    refused = _refused(catalog, "looped", schema)
    assert refused.field == field and "cycle of references" in refused.message
    assert catalog.create_version("looped", "a", {"x": 1}).version == 1


def test_a_recursive_schema_that_descends_into_the_content_is_taken(
    ledger: Ledger, tenant_id: str
) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.register_schema("tree", TREE)
    catalog.register_schema("chain", {"type": "object", "properties": {"next": {"$ref": "#"}}})
    deep: dict[str, Any] = {"name": "leaf"}
    for _ in range(30):
        deep = {"name": "inner", "children": [deep]}
    assert catalog.create_version("tree", "deep", deep).version == 1
    with pytest.raises(InvalidInput) as refused:
        catalog.create_version("tree", "bad", {"children": [{"children": [{"name": 7}]}]})
    assert refused.value.field == "content.children[0].children[0].name"
    assert refused.value.detail["rule"] == "type"
    assert catalog.create_version("chain", "c", {"next": {"next": {}}}).version == 1


@pytest.mark.parametrize(
    ("schema", "field", "words"),
    [
        ({"$ref": "#/$defs/nope"}, "schema.$ref", "nowhere in the schema"),
        ({"items": {"$ref": "#missing"}}, "schema.items.$ref", "nowhere in the schema"),
        ({"required": ["a"], "$ref": "#/required"}, "schema.$ref", "not a schema"),
        ({"minimum": 3, "$ref": "#/minimum"}, "schema.$ref", "not a schema"),
    ],
)
def test_a_reference_to_nothing_or_to_no_schema_is_refused(
    ledger: Ledger, tenant_id: str, schema: dict[str, Any], field: str, words: str
) -> None:
    """Taken, the first would refuse every write and the others crash each one."""
    refused = _refused(ledger.tenant(tenant_id).catalog, "dangling", schema)
    assert refused.field == field and words in refused.message


def test_a_stored_schema_that_loops_refuses_the_content_instead_of_crashing() -> None:
    """Schemas registered before cycles were refused may still be stored."""
    for schema in (
        {"$ref": "#"},
        {"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"},
    ):
        with pytest.raises(InvalidInput) as refused:
            schemas.validate({"x": 1}, schema, doc_type="looped", is_global=True)
        assert refused.value.field == "content"
        assert "global schema for looped" in refused.value.message


NESTED = "(" * 3000 + ")" * 3000


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"pattern": "a{4294967296}"}, "schema.pattern"),
        ({"properties": {"code": {"pattern": NESTED}}}, "schema.properties.code.pattern"),
        ({"patternProperties": {"a{4294967296}": {}}}, "schema.patternProperties"),
        (
            {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "patternProperties": {NESTED: {}},
            },
            "schema.patternProperties",
        ),
        # re compiles these; regex would spell the repeat out: for ever, or gigabytes
        ({"pattern": "^x{4294967294}$"}, "schema.pattern"),
        ({"items": {"pattern": "(?:(?:ab{1000}){1000}){1000}"}}, "schema.items.pattern"),
        ({"pattern": "(?:" * 60 + "a" + ")" * 60}, "schema.pattern"),
        # re compiles this one, regex (which matches it) does not
        pytest.param(
            {"properties": {"x": {"pattern": "[[:foo:]]"}}},
            "schema.properties.x.pattern",
            marks=pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning"),
        ),
    ],
)
def test_a_pattern_that_cannot_be_compiled_is_refused_naming_its_place(
    ledger: Ledger, tenant_id: str, schema: dict[str, Any], field: str
) -> None:
    assert _refused(ledger.tenant(tenant_id).catalog, "patterned", schema).field == field


def test_content_of_the_regex_format_is_refused_when_it_cannot_be_compiled(
    ledger: Ledger, tenant_id: str
) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.register_schema(
        "rule", {"type": "object", "properties": {"match": {"type": "string", "format": "regex"}}}
    )
    assert catalog.create_version("rule", "ok", {"match": "^[A-Z]{3}-\\d+$"}).version == 1
    for bad in ("a{4294967296}", NESTED, "x{4294967294}", "(unclosed"):
        with pytest.raises(InvalidInput) as refused:
            catalog.create_version("rule", "bad", {"match": bad})
        assert refused.value.field == "content.match"
        assert refused.value.detail["rule"] == "format"
    with pytest.raises(NotFound):
        catalog.get_latest("rule", "bad")


@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")
@pytest.mark.parametrize("pattern", ["a{4294967296}", "[[:foo:]]"])
def test_a_stored_pattern_that_cannot_be_compiled_refuses_the_content(pattern: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        schemas.validate("aaa", {"pattern": pattern}, doc_type="p", is_global=False)
    assert refused.value.field == "content"
    assert "pattern the catalog cannot compile" in refused.value.message


ARRAYS: list[list[Any]] = [
    [],
    [1, 2, 3],
    [1, True],
    [0, False],
    [1, 1.0],
    [1.5, 1.5],
    [None, None],
    ["1", 1],
    [{"a": 1, "b": 2}, {"b": 2, "a": 1}],
    [{"a": 1}, {"a": 1, "b": None}],
    [{"a": [1]}, {"a": [True]}],
    [[1, [2]], [1, [2.0]]],
    [[1, 2], [2, 1]],
    [[], {}],
    [{"x": {"y": [1, "a"]}}, {"x": {"y": [1, "a"]}}],
    [2**53, float(2**53)],
    [2**53 + 1, float(2**53)],
]


@pytest.mark.parametrize("items", ARRAYS)
def test_unique_items_decides_as_jsonschema_does(
    ledger: Ledger, tenant_id: str, items: list[Any]
) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.register_schema("unique", {"uniqueItems": True})
    expected = jsonschema.Draft202012Validator({"uniqueItems": True}).is_valid(items)
    try:
        catalog.create_version("unique", "u", items)
        taken = True
    except InvalidInput as refused:
        assert (refused.field, refused.detail["rule"]) == ("content", "uniqueItems")
        taken = False
    assert taken is expected


def test_unique_items_compares_no_pairs_and_finds_a_duplicate_anywhere(
    ledger: Ledger, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jsonschema compares objects pair by pair, about n²/2 comparisons: 8,000 objects
    took minutes while holding a thread and a connection."""
    compared = 0
    equal = jsonschema._utils.equal

    def counted(one: Any, two: Any) -> bool:
        nonlocal compared
        compared += 1
        return bool(equal(one, two))

    monkeypatch.setattr(jsonschema._utils, "equal", counted)
    catalog = ledger.tenant(tenant_id).catalog
    catalog.register_schema("unique", {"type": "array", "uniqueItems": True})
    many = [{"id": i, "tags": [str(i)]} for i in range(500)]
    assert catalog.create_version("unique", "many", many).version == 1
    assert compared == 0
    with pytest.raises(InvalidInput) as refused:
        catalog.create_version("unique", "twice", [*many, {"tags": ["0"], "id": 0.0}])
    assert refused.value.detail["rule"] == "uniqueItems"
    # jsonschema sorts these lists and compares only neighbours, missing the duplicate.
    with pytest.raises(InvalidInput):
        catalog.create_version("unique", "apart", [[1], [True], [1]])
    large = [{"id": i} for i in range(50_000)]
    assert catalog.create_version("unique", "large", large).version == 1
