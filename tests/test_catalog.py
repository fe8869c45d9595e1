"""The catalog on both faces: versions, lookups, diffs, schemas, global entries, isolation."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any

import pytest

from agentledger import (
    InvalidInput,
    Ledger,
    NotFound,
    PermissionDenied,
    VersionConflict,
)
from agentledger.catalog import MAX_CONTENT_BYTES
from agentledger.catalog.diffing import diff_json
from agentledger.catalog.records import DiffEntry

PLAYBOOK = {
    "conditions": {"exception_type": "settlement_fail"},
    "steps": [
        {"order": 1, "name": "Notify desk", "action_type": "notify", "params": {"to": "ops"}},
        {"order": 2, "name": "Retry", "action_type": "call_tool", "params": {"tool": "murex"}},
    ],
}
STEP_SCHEMA = {
    "type": "object",
    "required": ["steps"],
    "properties": {
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["order", "action_type"],
                "properties": {
                    "order": {"type": "integer", "minimum": 1},
                    "action_type": {"enum": ["notify", "call_tool", "escalate", "force_settle"]},
                },
            },
        }
    },
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_versions_are_numbered_and_each_keeps_its_content(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    first = catalog.create_version(
        "playbook", "settlement-fail", PLAYBOOK, title="Settlement fail", created_by="ana"
    )
    assert (first.version, first.is_global, first.created_by) == (1, False, "ana")
    changed = {**PLAYBOOK, "steps": [*PLAYBOOK["steps"], {"order": 3, "action_type": "escalate"}]}
    second = catalog.create_version("playbook", "settlement-fail", changed)
    assert second.version == 2 and second.title is None
    assert catalog.get_latest("playbook", "settlement-fail").content == changed
    assert catalog.get_version("playbook", "settlement-fail", 1).content == PLAYBOOK
    assert catalog.get_version("playbook", "settlement-fail", 1).title == "Settlement fail"
    # The hash is sha256 of the content as stored (jsonb's text form).
    assert first.content_hash == hashlib.sha256(ledger_json_text(PLAYBOOK).encode()).hexdigest()
    assert first.content_hash != second.content_hash
    infos = catalog.list_versions("playbook", "settlement-fail")
    assert [i.version for i in infos] == [2, 1]
    assert not hasattr(infos[0], "content")
    page = catalog.list_versions("playbook", "settlement-fail", limit=1)
    rest = catalog.list_versions("playbook", "settlement-fail", before=page[-1].version)
    assert [i.version for i in page + rest] == [2, 1]


def ledger_json_text(value: Any) -> str:
    """jsonb's text form of a small object: keys shorter first, then bytewise."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f'"{k}": {ledger_json_text(value[k])}' for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(ledger_json_text(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_the_same_content_again_returns_the_latest_unchanged(
    ledger: Ledger, tenant_id: str
) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    first = catalog.create_version("tool", "notify_slack", {"type": "webhook"}, title="Slack")
    again = catalog.create_version("tool", "notify_slack", {"type": "webhook"}, title="Slack")
    assert again == first
    retitled = catalog.create_version("tool", "notify_slack", {"type": "webhook"}, title="S")
    assert retitled.version == 2
    # Unchanged content answers the latest even with a stale expected_version (a retry).
    assert (
        catalog.create_version(
            "tool", "notify_slack", {"type": "webhook"}, title="S", expected_version=1
        )
        == retitled
    )


def test_expected_version_makes_a_write_conditional(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    created = catalog.create_version("policy_pack", "default", {"v": 1}, expected_version=0)
    assert created.version == 1
    with pytest.raises(VersionConflict) as new_only:
        catalog.create_version("policy_pack", "default", {"v": 2}, expected_version=0)
    assert new_only.value.field == "expected_version"
    assert new_only.value.detail == {"expected": 0, "actual": 1}
    assert (
        catalog.create_version("policy_pack", "default", {"v": 2}, expected_version=1).version == 2
    )
    with pytest.raises(VersionConflict) as stale:
        catalog.create_version("policy_pack", "default", {"v": 3}, expected_version=1)
    assert "version 2" in stale.value.message
    with pytest.raises(VersionConflict) as absent:
        catalog.create_version("policy_pack", "missing", {"v": 1}, expected_version=4)
    assert "does not exist" in absent.value.message
    assert catalog.get_latest("policy_pack", "default").content == {"v": 2}
    with pytest.raises(NotFound):
        catalog.get_latest("policy_pack", "missing")


def test_diff_names_added_removed_and_changed_paths(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.create_version("domain_pack", "finance", {"a": 1, "b": {"c": [1, 2]}, "gone": True})
    catalog.create_version("domain_pack", "finance", {"a": 2, "b": {"c": [1, 2, 3]}, "new": "x"})
    d = catalog.diff("domain_pack", "finance", 1, 2)
    assert (d.from_version, d.to_version, d.is_global) == (1, 2, False)
    assert d.added == [DiffEntry(path="/b/c/2", new=3), DiffEntry(path="/new", new="x")]
    assert d.removed == [DiffEntry(path="/gone", old=True)]
    assert d.changed == [DiffEntry(path="/a", old=1, new=2)]
    back = catalog.diff("domain_pack", "finance", 2, 1)
    assert back.added == [DiffEntry(path="/gone", new=True)]
    assert catalog.diff("domain_pack", "finance", 2, 2).changed == []
    with pytest.raises(NotFound) as missing:
        catalog.diff("domain_pack", "finance", 1, 9)
    assert missing.value.field == "to_version"


def test_diff_of_json_values() -> None:
    added, removed, changed = diff_json(
        {"a/b": {"~": 1}, "n": 1, "t": True}, {"a/b": {"~": 2}, "n": 1.0, "t": 1}
    )
    assert changed == [
        DiffEntry(path="/a~1b/~0", old=1, new=2),
        DiffEntry(path="/t", old=True, new=1),
    ]
    assert added == removed == []
    assert diff_json([1], {"x": 1})[2] == [DiffEntry(path="", old=[1], new={"x": 1})]


def test_schema_refuses_invalid_content_naming_path_and_rule(
    ledger: Ledger, tenant_id: str
) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    registered = catalog.register_schema("playbook", STEP_SCHEMA, created_by="ana")
    assert (registered.version, registered.is_global) == (1, False)
    bad = {"steps": [{"order": 1, "action_type": "notify"}, {"order": 2, "action_type": "pray"}]}
    with pytest.raises(InvalidInput) as refused:
        catalog.create_version("playbook", "p", bad)
    assert refused.value.field == "content.steps[1].action_type"
    assert refused.value.detail["rule"] == "enum"
    assert "'enum'" in refused.value.message and "pray" in refused.value.message
    with pytest.raises(InvalidInput) as missing:
        catalog.create_version("playbook", "p", {"steps": [{"order": 0, "action_type": "notify"}]})
    assert missing.value.field == "content.steps[0].order"
    assert missing.value.detail["rule"] == "minimum"
    with pytest.raises(NotFound):  # nothing was written
        catalog.get_latest("playbook", "p")
    assert catalog.list_documents("playbook", scope="tenant") == []
    assert catalog.create_version("playbook", "p", PLAYBOOK).version == 1
    # Replacing the schema counts a version; a type without one takes any JSON.
    assert catalog.register_schema("playbook", {**STEP_SCHEMA, "minProperties": 1}).version == 2
    assert catalog.create_version("notes", "free", ["anything", 1, None]).version == 1
    assert catalog.delete_schema("playbook") is True
    assert catalog.delete_schema("playbook") is False
    assert catalog.create_version("playbook", "p", {"steps": "any"}).version == 2


def test_formats_and_local_references_are_checked(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.register_schema(
        "weekly_plan",
        {
            "$defs": {"day": {"type": "string", "format": "date"}},
            "type": "object",
            "properties": {"week_start": {"$ref": "#/$defs/day"}},
        },
    )
    with pytest.raises(InvalidInput) as refused:
        catalog.create_version("weekly_plan", "2025-W02", {"week_start": "2025-13-40"})
    assert refused.value.field == "content.week_start"
    assert refused.value.detail["rule"] == "format"
    assert catalog.create_version("weekly_plan", "2025-W02", {"week_start": "2025-01-06"})


def test_patterns_match_as_before_and_a_pathological_one_is_cut_short(
    ledger: Ledger, tenant_id: str
) -> None:
    """A pattern that backtracks without bound (``(a|aa)+$``) would hold the server for
    ever on 40 characters: every validation's matches share a budget, then the content is
    refused. Ordinary patterns match as they always did."""
    catalog = ledger.tenant(tenant_id).catalog
    catalog.register_schema(
        "ticket",
        {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}},
            "patternProperties": {"^x-": {"type": "string"}},
            "additionalProperties": False,
        },
    )
    assert catalog.create_version("ticket", "t1", {"code": "OPS-12", "x-team": "fx"})
    for content, field, rule in (
        ({"code": "ops-12"}, "content.code", "pattern"),
        ({"code": "OPS-1", "x-team": 7}, "content['x-team']", "type"),
        ({"code": "OPS-1", "team": "fx"}, "content", "additionalProperties"),
    ):
        with pytest.raises(InvalidInput) as refused:
            catalog.create_version("ticket", "t2", content)
        assert (refused.value.field, refused.value.detail["rule"]) == (field, rule)

    evil = "a" * 40 + "!"
    catalog.register_schema("slow", {"type": "string", "pattern": "(a|aa)+$"})
    catalog.register_schema("slow_keys", {"type": "object", "patternProperties": {"(a|aa)+$": {}}})
    slow: list[tuple[str, Any]] = [("slow", evil), ("slow_keys", {evil: 1})]
    for doc_type, given in slow:
        began = time.monotonic()
        with pytest.raises(InvalidInput, match="took more than 1 s to match the patterns"):
            catalog.create_version(doc_type, "x", given)
        assert time.monotonic() - began < 30  # unbounded, it would not return at all
    with pytest.raises(NotFound):
        catalog.get_latest("slow", "x")


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"type": "nope"}, "schema.type"),
        ({"properties": {"x": {"pattern": "("}}}, "schema.properties.x.pattern"),
        ({"$ref": "https://example.com/schema.json"}, "schema.$ref"),
        ({"items": {"$ref": "other.json#/x"}}, "schema.items.$ref"),
        ({"$schema": "https://example.com/my-draft"}, "schema.$schema"),
        ({"$schema": 7}, "schema.$schema"),
        (["not", "an", "object"], "schema"),
        ({"description": "a\x00b"}, "schema.description"),
        (
            {"patternProperties": {"^x": {}}, "unevaluatedProperties": False},
            "schema",
        ),
    ],
)
def test_bad_schemas_are_refused(ledger: Ledger, tenant_id: str, schema: Any, field: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    with pytest.raises(InvalidInput) as refused:
        catalog.register_schema("playbook", schema)
    assert refused.value.field == field
    with pytest.raises(NotFound):
        catalog.get_schema("playbook")


def test_global_entries_are_read_by_every_tenant_and_shadowed_by_their_own(
    ledger: Ledger, tenant_id: str
) -> None:
    other = unique("t")
    ledger.tenants.create(other)
    name = unique("finance")
    platform = ledger.platform_catalog
    pack = platform.create_version("domain_pack", name, {"exception_types": ["settlement"]})
    assert (pack.version, pack.is_global) == (1, True)
    platform.create_version("domain_pack", name, {"exception_types": ["settlement", "margin"]})
    for tid in (tenant_id, other):
        seen = ledger.tenant(tid).catalog.get_latest("domain_pack", name)
        assert (seen.version, seen.is_global) == (2, True)
        assert ledger.tenant(tid).catalog.get_version("domain_pack", name, 1).content == {
            "exception_types": ["settlement"]
        }
    catalog = ledger.tenant(tenant_id).catalog
    own = catalog.create_version("domain_pack", name, {"exception_types": ["custom"]})
    assert (own.version, own.is_global) == (1, False)
    assert catalog.get_latest("domain_pack", name).content == {"exception_types": ["custom"]}
    assert catalog.get_latest("domain_pack", name, scope="global").version == 2
    assert ledger.tenant(other).catalog.get_latest("domain_pack", name).is_global
    listed = catalog.list_documents("domain_pack", name=name)
    assert [(d.name, d.is_global, d.latest_version) for d in listed] == [(name, False, 1)]
    both = catalog.list_documents("domain_pack", name=name, scope="global")
    assert [(d.is_global, d.latest_version) for d in both] == [(True, 2)]
    with pytest.raises(NotFound) as shadowed:  # the tenant's own has only version 1
        catalog.get_version("domain_pack", name, 2)
    assert shadowed.value.field == "version"
    assert catalog.diff("domain_pack", name, 1, 2, scope="global").changed == []
    assert catalog.delete_document("domain_pack", name) is True
    assert catalog.get_latest("domain_pack", name).is_global  # the global one again
    assert platform.list_versions("domain_pack", name)[0].version == 2
    assert platform.delete_document("domain_pack", name) is True
    with pytest.raises(NotFound):
        catalog.get_latest("domain_pack", name)


def test_a_tenant_cannot_write_a_global_entry(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    name = unique("tool")
    ledger.platform_catalog.create_version("tool", name, {"type": "email"})
    with pytest.raises(PermissionDenied) as refused:
        catalog.create_version("tool", name, {"type": "webhook"}, scope="global")
    assert "platform scope" in refused.value.message
    with pytest.raises(PermissionDenied):
        catalog.create_version("tool", unique("new"), {"type": "webhook"}, scope="global")
    with pytest.raises(PermissionDenied):
        catalog.delete_document("tool", name, scope="global")
    with pytest.raises(PermissionDenied):
        catalog.register_schema("tool", {"type": "object"}, scope="global")
    with pytest.raises(PermissionDenied), ledger.tenant(tenant_id).transaction() as tx:
        tx.catalog.create_version("tool", name, {"type": "sms"}, scope="global")
    latest = catalog.get_latest("tool", name)
    assert (latest.version, latest.is_global, latest.content) == (1, True, {"type": "email"})
    assert all(s.doc_type != "tool" for s in catalog.list_schemas(scope="global"))


def test_global_schemas_apply_to_tenants_and_theirs_add_to_it(
    ledger: Ledger, tenant_id: str
) -> None:
    doc_type = f"pack_{uuid.uuid4().hex[:8]}"
    platform = ledger.platform_catalog
    platform.register_schema(doc_type, {"type": "object", "required": ["domain"]})
    catalog = ledger.tenant(tenant_id).catalog
    with pytest.raises(InvalidInput) as global_rule:
        catalog.create_version(doc_type, "a", {"x": 1})
    assert global_rule.value.field == "content" and "global schema" in global_rule.value.message
    catalog.register_schema(doc_type, {"properties": {"domain": {"enum": ["finance"]}}})
    with pytest.raises(InvalidInput) as tenant_rule:
        catalog.create_version(doc_type, "a", {"domain": "health"})
    assert "tenant's schema" in tenant_rule.value.message
    assert catalog.create_version(doc_type, "a", {"domain": "finance"}).version == 1
    # The tenant's schema does not bind the platform's documents.
    assert platform.create_version(doc_type, "g", {"domain": "health"}).is_global
    kinds = [(s.doc_type, s.is_global) for s in catalog.list_schemas() if s.doc_type == doc_type]
    assert kinds == [(doc_type, True), (doc_type, False)]
    assert catalog.get_schema(doc_type, scope="global").json_schema["required"] == ["domain"]
    assert platform.delete_schema(doc_type) is True
    assert platform.delete_document(doc_type, "g") is True


def test_another_tenant_sees_nothing_of_a_tenants_documents(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.create_version("prompt_template", "triage.system", {"text": "You are..."})
    catalog.create_version("prompt_template", "triage.system", {"text": "You triage..."})
    catalog.register_schema("prompt_template", {"type": "object"})
    other = unique("t")
    ledger.tenants.create(other)
    theirs = ledger.tenant(other).catalog
    with pytest.raises(NotFound):
        theirs.get_latest("prompt_template", "triage.system")
    with pytest.raises(NotFound):
        theirs.get_version("prompt_template", "triage.system", 1)
    with pytest.raises(NotFound):
        theirs.list_versions("prompt_template", "triage.system")
    with pytest.raises(NotFound):
        theirs.diff("prompt_template", "triage.system", 1, 2)
    assert theirs.list_documents("prompt_template") == []
    assert all(s.doc_type != "prompt_template" for s in theirs.list_schemas())
    assert theirs.delete_document("prompt_template", "triage.system") is False
    # Their own document of the same name is theirs alone, and A's schema does not bind it.
    assert theirs.create_version("prompt_template", "triage.system", "plain text").version == 1
    assert catalog.get_latest("prompt_template", "triage.system").version == 2


def test_listing_documents_in_keyset_pages(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    for doc_type, name in [("tool", "b"), ("tool", "a"), ("playbook", "z"), ("tool", "c")]:
        catalog.create_version(doc_type, name, {"n": name}, title=name.upper())
    seen: list[tuple[str, str]] = []
    after = None
    while True:
        page = catalog.list_documents(scope="tenant", after=after, limit=2)
        seen += [(d.doc_type, d.name) for d in page]
        if len(page) < 2:
            break
        after = (page[-1].doc_type, page[-1].name)
    assert seen == [("playbook", "z"), ("tool", "a"), ("tool", "b"), ("tool", "c")]
    newest = catalog.list_documents(scope="tenant", descending=True, limit=3)
    assert [d.name for d in newest] == ["c", "b", "a"]
    last = catalog.list_documents(scope="tenant", descending=True, after=("tool", "a"))
    assert [(d.doc_type, d.name) for d in last] == [("playbook", "z")]
    tools = catalog.list_documents("tool", scope="tenant")
    assert [(d.name, d.title, d.latest_version) for d in tools] == [
        ("a", "A", 1),
        ("b", "B", 1),
        ("c", "C", 1),
    ]


def test_deleting_a_document_removes_its_versions(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    catalog.create_version("preferences", "ceo", {"tone": "brief"})
    catalog.create_version("preferences", "ceo", {"tone": "detailed"})
    assert catalog.delete_document("preferences", "ceo") is True
    assert catalog.delete_document("preferences", "ceo") is False
    with pytest.raises(NotFound):
        catalog.list_versions("preferences", "ceo")
    assert catalog.create_version("preferences", "ceo", {"tone": "brief"}).version == 1


def test_a_version_may_be_back_dated(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    then = dt.datetime(2025, 1, 6, 9, tzinfo=dt.UTC)
    plan = catalog.create_version(
        "weekly_plan", "2025-W02", {"week_start": "2025-01-06", "priorities": []}, at=then
    )
    assert plan.created_at == then
    assert catalog.list_documents("weekly_plan")[0].created_at == then
    with pytest.raises(InvalidInput) as future:
        catalog.create_version("weekly_plan", "2099-W01", {}, at=then.replace(year=2099))
    assert future.value.field == "at"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get_version("tool", "x", 0), "version"),
        (lambda c: c.get_version("tool", "x", -1), "version"),
        (lambda c: c.get_version("tool", "x", True), "version"),
        (lambda c: c.get_latest("Tool", "x"), "doc_type"),
        (lambda c: c.get_latest("tool", "a/b"), "name"),
        (lambda c: c.get_latest("tool", "a\x00b"), "name"),
        (lambda c: c.get_latest("tool", "x", scope="everywhere"), "scope"),
        (lambda c: c.create_version("tool", "x", None), "content"),
        (lambda c: c.create_version("tool", "x", {"k": "a\x00b"}), "content.k"),
        (lambda c: c.create_version("tool", "x", {"k": "\ud800"}), "content.k"),
        (lambda c: c.create_version("tool", "x", {"k": float("nan")}), "content.k"),
        (lambda c: c.create_version("tool", "x", "y" * MAX_CONTENT_BYTES), "content"),
        (lambda c: c.create_version("tool", "x", {}, title="t" * 501), "title"),
        (lambda c: c.create_version("tool", "x", {}, expected_version=-1), "expected_version"),
        (lambda c: c.create_version("tool", "x", {}, scope="any"), "scope"),
        (lambda c: c.list_versions("tool", "x", before=0), "before"),
        (lambda c: c.list_documents(limit=0), "limit"),
        (lambda c: c.list_documents(after=("tool",)), "after"),
        (lambda c: c.diff("tool", "x", 1, 0), "to_version"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    ledger: Ledger, tenant_id: str, call: Any, field: str
) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    with pytest.raises(InvalidInput) as refused:
        call(catalog)
    assert refused.value.field == field
    assert catalog.list_documents(scope="tenant") == []


def test_an_unknown_document_is_not_found_naming_the_name(ledger: Ledger, tenant_id: str) -> None:
    catalog = ledger.tenant(tenant_id).catalog
    with pytest.raises(NotFound) as missing:
        catalog.get_latest("tool", "nothing")
    assert missing.value.field == "name" and "'nothing'" in missing.value.message
    catalog.create_version("tool", "something", {})
    with pytest.raises(NotFound) as no_version:
        catalog.get_version("tool", "something", 5)
    assert no_version.value.field == "version" and "latest is 1" in no_version.value.message
    with pytest.raises(NotFound) as no_schema:
        catalog.get_schema("tool")
    assert no_schema.value.field == "doc_type"
