"""Cases on both faces: kinds and their lifecycles (in code and in the database), create,
upsert by ref, updates with versions, events and timelines, blocks, links, deletion,
fixed timestamps, bad input and tenant isolation."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from agentledger import (
    Case,
    Conflict,
    IllegalTransition,
    InvalidInput,
    Ledger,
    NotFound,
    VersionConflict,
)
from agentledger.cases.facade_sync import Cases

# Seed 003's bottlenecks and seed 004's exceptions, as case kinds.
BOTTLENECK: dict[str, Any] = {
    "statuses": ["pending", "in_progress", "resolved", "ignored"],
    "transitions": {"pending": ["in_progress", "ignored"], "in_progress": ["resolved"]},
    "terminal": ["resolved", "ignored"],
}
EXCEPTION: dict[str, Any] = {
    "statuses": ["open", "analyzing", "resolved", "escalated"],
    "transitions": [("open", "analyzing"), ("analyzing", "resolved"), ("analyzing", "escalated")],
    "terminal": ["resolved"],
}
T0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


def cases_of(ledger: Ledger, tenant_id: str) -> Cases:
    cases = ledger.tenant(tenant_id).cases
    cases.define_kind("bottleneck", **BOTTLENECK)
    cases.define_kind("exception", **EXCEPTION)
    return cases


def types(cases: Cases, case_id: Any) -> list[str]:
    return [e.type for e in cases.timeline(case_id)]


def test_kinds_are_defined_read_and_redefined(ledger: Ledger, tenant_id: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    made = cases.define_kind("bottleneck", **BOTTLENECK)
    assert made.statuses == BOTTLENECK["statuses"] and made.initial == "pending"
    assert made.terminal == ["resolved", "ignored"]
    assert made.transitions == {
        "pending": ["in_progress", "ignored"],
        "in_progress": ["resolved"],
        "resolved": [],
        "ignored": [],
    }
    assert cases.define_kind("bottleneck", **BOTTLENECK).transitions == made.transitions
    assert [k.kind for k in cases.kinds()] == ["bottleneck"]
    with pytest.raises(NotFound) as missing:
        cases.kind("exception")
    assert missing.value.field == "kind"
    # Add a status and moves; the initial may change.
    wider = cases.define_kind(
        "bottleneck",
        ["triage", *BOTTLENECK["statuses"]],
        transitions={**BOTTLENECK["transitions"], "triage": ["pending"]},
        terminal=BOTTLENECK["terminal"],
    )
    assert wider.initial == "triage" and wider.transitions["triage"] == ["pending"]
    case = cases.create("bottleneck", "Slow deploys")
    assert case.status == "triage"
    # A status that holds cases cannot be dropped; nothing of the redefinition is kept.
    with pytest.raises(Conflict) as stranded:
        cases.define_kind("bottleneck", **BOTTLENECK)
    assert stranded.value.field == "statuses" and "'triage'" in str(stranded.value)
    assert cases.kind("bottleneck") == wider
    cases.transition(case.id, "pending")
    narrower = cases.define_kind("bottleneck", **BOTTLENECK)
    assert narrower.statuses == BOTTLENECK["statuses"] and narrower.initial == "pending"
    cases.transition(case.id, "in_progress")
    with pytest.raises(Conflict) as stuck:
        cases.define_kind(
            "bottleneck",
            ["pending", "resolved", "ignored"],
            transitions={"pending": ["resolved", "ignored"]},
            terminal=["resolved", "ignored"],
        )
    assert stuck.value.field == "statuses" and "'in_progress'" in str(stuck.value)
    # A status keeps its terminal flag.
    with pytest.raises(Conflict) as flipped:
        cases.define_kind("bottleneck", **{**BOTTLENECK, "terminal": ["resolved"]})
    assert flipped.value.field == "terminal" and "ignored" in str(flipped.value)
    assert cases.kind("bottleneck").terminal == ["resolved", "ignored"]


def test_kind_definitions_are_checked(ledger: Ledger, tenant_id: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    bad: list[tuple[str, dict[str, Any]]] = [
        ("kind", {"kind": " ", "statuses": ["a"], "transitions": {}}),
        ("statuses", {"kind": "k", "statuses": [], "transitions": {}}),
        ("statuses", {"kind": "k", "statuses": ["a", "a"], "transitions": {}}),
        ("statuses", {"kind": "k", "statuses": "abc", "transitions": {}}),
        ("initial", {"kind": "k", "statuses": ["a"], "transitions": {}, "initial": "b"}),
        ("terminal", {"kind": "k", "statuses": ["a"], "transitions": {}, "terminal": ["z"]}),
        ("transitions", {"kind": "k", "statuses": ["a", "b"], "transitions": {"a": ["c"]}}),
        ("transitions", {"kind": "k", "statuses": ["a", "b"], "transitions": [("a", "a")]}),
        ("transitions", {"kind": "k", "statuses": ["a", "b"], "transitions": [("a",)]}),
        ("transitions", {"kind": "k", "statuses": ["a"], "transitions": 7}),
    ]
    for field, kwargs in bad:
        with pytest.raises(InvalidInput) as info:
            cases.define_kind(**kwargs)
        assert info.value.field == field, kwargs
    assert cases.kinds() == []


def test_create_reads_back_and_a_repeated_id_is_a_retry(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    cid = uuid.uuid4()
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)
    made = cases.create(
        "exception",
        "Settlement failed for ACME",
        body="Trade 77 did not settle at the custodian.",
        ref="EX-2025-0001",
        type="SettlementFail",
        severity="high",
        score=7.5,
        confidence=0.9,
        owner="ops-team",
        domain="Finance",
        entity="counterparty:ACME",
        source="Murex",
        amount=Decimal("1250000.50"),
        sla_deadline=deadline,
        playbook="settlement-retry",
        playbook_step=0,
        attrs={"trade_id": 77},
        by="intake-agent",
        id=cid,
    )
    assert made.id == cid and made.status == "open" and made.version == 1 and made.is_open
    assert made.amount == Decimal("1250000.50") and made.sla_deadline == deadline
    assert made.created_at == made.updated_at == made.opened_at and made.resolved_at is None
    assert cases.get(cid) == made
    assert cases.get_by_ref("EX-2025-0001") == made
    assert cases.get_by_ref("EX-2025-0001", kind="exception") == made
    assert cases.create("exception", "Settlement failed for ACME", ref="EX-2025-0001", id=cid) == (
        made
    )
    with pytest.raises(Conflict) as other:
        cases.create("exception", "Another title", id=cid)
    assert other.value.field == "id"
    with pytest.raises(Conflict) as taken:
        cases.create("exception", "Same ref", ref="EX-2025-0001")
    assert taken.value.field == "ref"
    assert "a case of kind 'exception' with ref 'EX-2025-0001' already exists" in str(taken.value)
    with pytest.raises(NotFound) as no_ref:
        cases.get_by_ref("EX-2025-9999")
    assert no_ref.value.field == "ref"
    cases.create("bottleneck", "Shared ref", ref="EX-2025-0001")
    with pytest.raises(Conflict) as ambiguous:
        cases.get_by_ref("EX-2025-0001")
    assert ambiguous.value.field == "kind"
    [created] = cases.timeline(cid)
    assert created.type == "CaseCreated" and created.actor_id == "intake-agent"
    assert created.payload["amount"] == "1250000.50" and created.payload["ref"] == "EX-2025-0001"
    assert created.payload["status"] == "open" and created.payload["attrs"] == {"trade_id": 77}


def test_seed_003_lifecycle_is_enforced(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    case = cases.create("bottleneck", "CI queue", score=8, confidence=0.7, source="github")
    started = cases.transition(case.id, "in_progress", by="orchestrator")
    assert started.status == "in_progress" and started.version == 2 and started.resolved_at is None
    done = cases.transition(case.id, "resolved", reason="runners added")
    assert done.resolved_at == done.updated_at and not done.is_open and done.version == 3
    with pytest.raises(IllegalTransition) as back:
        cases.transition(case.id, "pending")
    message = str(back.value)
    assert "'resolved'" in message and "'pending'" in message and back.value.field == "status"
    with pytest.raises(InvalidInput) as unknown:
        cases.transition(case.id, "sleeping")
    assert unknown.value.field == "status" and "'pending'" in str(unknown.value)
    assert cases.transition(case.id, "resolved") == done  # already there: nothing changes
    ignored = cases.transition(cases.create("bottleneck", "Noise").id, "ignored")
    assert ignored.status == "ignored" and ignored.resolved_at is not None
    skipping = cases.create("bottleneck", "Skip")
    with pytest.raises(IllegalTransition) as skip:
        cases.transition(skipping.id, "resolved")
    assert "'in_progress', 'ignored'" in str(skip.value)
    assert cases.get(skipping.id) == skipping
    changes = [e.payload for e in cases.timeline(case.id) if e.type == "CaseStatusChanged"]
    assert changes[0]["from"] == "pending" and changes[1]["reason"] == "runners added"
    assert types(cases, case.id) == ["CaseCreated"] + ["CaseStatusChanged"] * 2
    with pytest.raises(NotFound):
        cases.transition(uuid.uuid4(), "resolved")


def test_leaving_a_terminal_status_reopens(ledger: Ledger, tenant_id: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    cases.define_kind(
        "ticket",
        ["open", "closed"],
        transitions={"open": ["closed"], "closed": ["open"]},
        terminal=["closed"],
    )
    case = cases.create("ticket", "Printer", at=T0)
    closed = cases.transition(case.id, "closed", at=T0 + dt.timedelta(hours=2))
    assert closed.resolved_at == T0 + dt.timedelta(hours=2) and closed.opened_at == T0
    reopened = cases.transition(case.id, "open", at=T0 + dt.timedelta(hours=5))
    assert reopened.resolved_at is None and reopened.opened_at == T0 + dt.timedelta(hours=5)
    assert reopened.created_at == T0
    with pytest.raises(InvalidInput) as before:
        cases.transition(case.id, "closed", at=T0 + dt.timedelta(hours=1))
    assert before.value.field == "at"
    assert cases.get(case.id) == reopened


def test_a_raw_update_as_the_app_role_cannot_skip_the_lifecycle(
    sync_ledger: Ledger, app_url: str
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    cases = cases_of(sync_ledger, tid)
    case = cases.create("bottleneck", "raw")
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", [tid])
        for status, state in (("resolved", "ALIT0"), ("bogus", "ALII0")):
            with pytest.raises(psycopg.Error) as info, conn.transaction():
                conn.execute(
                    "UPDATE agentledger.cases SET status = %s WHERE id = %s", [status, case.id]
                )
            assert info.value.sqlstate == state
        with pytest.raises(psycopg.Error) as kind, conn.transaction():
            conn.execute("UPDATE agentledger.cases SET kind = 'exception' WHERE id = %s", [case.id])
        assert kind.value.sqlstate == "ALII0"
        assert cases.get(case.id) == case
        # An allowed move by hand: the database keeps the derived columns.
        conn.execute(
            "UPDATE agentledger.cases SET status = 'ignored', version = 99, resolved_at = NULL"
            " WHERE id = %s",
            [case.id],
        )
        conn.commit()
    moved = cases.get(case.id)
    assert moved.status == "ignored" and moved.version == 2 and moved.resolved_at is not None


def test_bad_input_names_the_field_and_writes_nothing(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    bad: list[tuple[str, dict[str, Any]]] = [
        ("kind", {"kind": "incident"}),
        ("status", {"status": "sleeping"}),
        ("score", {"score": 11}),
        ("score", {"score": float("nan")}),
        ("confidence", {"confidence": 1.5}),
        ("severity", {"severity": "urgent"}),
        ("amount", {"amount": float("inf")}),
        ("amount", {"amount": "12"}),
        ("amount", {"amount": Decimal("1E+200000")}),  # 38 digits, written out
        ("score", {"score": 10**400}),  # beyond a double
        ("attrs.n", {"attrs": {"n": 10**5000}}),  # beyond what Python reads back
        ("sla_deadline", {"sla_deadline": dt.datetime(2025, 1, 1)}),
        ("at", {"at": future}),
        ("title", {"title": "  "}),
        ("attrs.x", {"attrs": {"x": float("nan")}}),
        ("playbook_step", {"playbook_step": -1}),
        ("id", {"id": "not-a-uuid"}),
        ("owner", {"owner": "x" * 201}),
    ]
    for field, extra in bad:
        kwargs = {"kind": "bottleneck", "title": "t", **extra}
        with pytest.raises(InvalidInput) as info:
            cases.create(**kwargs)
        assert info.value.field == field, extra
    assert cases.list().items == []
    assert ledger.tenant(tenant_id).events.recent() == []
    case = cases.create("bottleneck", "fine")
    with pytest.raises(VersionConflict) as stale:
        cases.update(case.id, title="new", expected_version=5)
    assert stale.value.field == "expected_version"
    with pytest.raises(InvalidInput) as clear:
        cases.update(case.id, clear=["title"])
    assert clear.value.field == "clear"
    for field, call in (
        ("type", lambda: cases.append_event(case.id, "CaseCreated", {})),
        ("data", lambda: cases.append_event(case.id, "Custom", ["x"])),  # type: ignore[arg-type]
        ("actor_type", lambda: cases.comment(case.id, "hi", actor_type="robot")),
        ("text", lambda: cases.comment(case.id, "")),
        ("case_id", lambda: cases.get("nope")),
        ("order", lambda: cases.list(order="title")),
        ("cursor", lambda: cases.list(cursor="garbage")),
        ("status", lambda: cases.list(status=[])),
        ("limit", lambda: cases.list(limit=0)),
        ("after", lambda: cases.timeline(case.id, after=2**62)),
        ("where", lambda: cases.list(where=[("n", ">", 10**400)])),
        ("sla_breached", lambda: cases.list(sla_breached="false")),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.field == field
    assert cases.get(case.id) == case and types(cases, case.id) == ["CaseCreated"]


def test_upsert_by_ref_is_idempotent_and_records_changes(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    first = cases.upsert(
        "exception", "EX-2025-0002", "Claim mismatch", severity="medium", amount=Decimal("10.5")
    )
    assert first.created and first.changed == [] and first.case.status == "open"
    again = cases.upsert(
        "exception", "EX-2025-0002", "Claim mismatch", severity="medium", amount=10.5
    )
    assert not again.created and again.changed == [] and again.case == first.case
    changed = cases.upsert(
        "exception",
        "EX-2025-0002",
        severity="critical",
        status="analyzing",
        attrs={"claim": 9},
        by="triage-agent",
    )
    assert changed.changed == ["severity", "attrs", "status"]
    assert changed.case.version == 2 and changed.case.amount == Decimal("10.5")
    assert changed.case.title == "Claim mismatch"  # None keeps a field
    merged = cases.upsert("exception", "EX-2025-0002", attrs={"note": "x"})
    assert merged.case.attrs == {"claim": 9, "note": "x"}
    with pytest.raises(IllegalTransition):
        cases.upsert("exception", "EX-2025-0002", status="open", severity="low")
    assert cases.get(first.case.id) == merged.case
    events = cases.timeline(first.case.id)
    assert [e.type for e in events] == [
        "CaseCreated",
        "CaseUpdated",
        "CaseStatusChanged",
        "CaseUpdated",
    ]
    assert events[1].payload["changes"]["severity"] == {"from": "medium", "to": "critical"}
    assert events[1].actor_id == "triage-agent" and events[1].actor_type == "agent"
    with pytest.raises(InvalidInput) as untitled:
        cases.upsert("exception", "EX-2025-0003", severity="low")
    assert untitled.value.field == "title"
    with pytest.raises(InvalidInput) as no_kind:
        cases.upsert("incident", "I-1", "x")
    assert no_kind.value.field == "kind"


def test_true_is_not_1_in_a_change(ledger: Ledger, tenant_id: str) -> None:
    # JSON's true is not 1, though Python's True == 1: each change is kept, at any depth,
    # and a repeat of it is no change.
    cases = cases_of(ledger, tenant_id)
    made = cases.upsert("exception", "EX-9", "Flags", attrs={"flag": 1, "n": [0]}).case
    flagged = cases.upsert("exception", "EX-9", attrs={"flag": True, "n": [False]})
    assert flagged.changed == ["attrs"] and flagged.case.version == made.version + 1
    assert cases.get(made.id).attrs == {"flag": True, "n": [False]}
    back = cases.update(made.id, attrs={"flag": 1})
    assert back.attrs == {"flag": 1, "n": [False]} and back.version == made.version + 2
    again = cases.upsert("exception", "EX-9", attrs={"flag": 1, "n": [False]})
    assert again.changed == [] and again.case == back
    assert cases.upsert("exception", "EX-9", attrs={"flag": 1.0}).changed == []  # as in jsonb


def test_updates_assignments_and_versions(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    case = cases.create("exception", "Late payment", owner="ana", domain="Finance", score=2)
    updated = cases.update(case.id, score=6, expected_version=1, body="details")
    assert (updated.version, updated.score, updated.body, updated.owner) == (
        2,
        6.0,
        "details",
        "ana",
    )
    assert cases.update(case.id, score=6) == updated  # no difference, no change
    cleared = cases.update(case.id, clear=["domain", "score"], expected_version=2)
    assert cleared.domain is None and cleared.score is None and cleared.version == 3
    assigned = cases.assign(case.id, "bo", by="lead")
    assert assigned.owner == "bo" and assigned.version == 4
    unassigned = cases.assign(case.id, None, expected_version=4)
    assert unassigned.owner is None
    with pytest.raises(VersionConflict):
        cases.assign(case.id, "cy", expected_version=4)
    with pytest.raises(VersionConflict):
        cases.transition(case.id, "analyzing", expected_version=1)
    events = cases.timeline(case.id)
    assert [e.type for e in events] == [
        "CaseCreated",
        "CaseUpdated",
        "CaseUpdated",
        "CaseAssigned",
        "CaseAssigned",
    ]
    assert events[3].payload["from"] == "ana" and events[3].payload["to"] == "bo"
    assert events[2].payload["changes"]["domain"] == {"from": "Finance", "to": None}
    with pytest.raises(NotFound):
        cases.update(uuid.uuid4(), title="x")


def test_events_comments_and_their_ids(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    cases = cases_of(ledger, tenant_id)
    case = cases.create("exception", "Feed gap")
    eid = uuid.uuid4()
    first = cases.append_event(case.id, "TriageCompleted", {"score": 3}, event_id=eid, by="triage")
    assert not first.already_appended and first.stream == f"case:{case.id}"
    second = cases.append_event(case.id, "TriageCompleted", {"score": 3}, event_id=eid)
    assert second.already_appended and second.version == first.version
    with pytest.raises(Conflict) as other:
        cases.append_event(case.id, "TriageCompleted", {"score": 4}, event_id=eid)
    assert other.value.field == "event_id"
    assert scope.events.exists(eid) and not scope.events.exists(uuid.uuid4())
    cid = uuid.uuid4()
    note = cases.comment(case.id, "Custodian confirmed", by="ana", actor_type="user", id=cid)
    assert note.event_id == cid and note.actor_type == "user" and note.type == "CaseCommented"
    assert cases.comment(case.id, "Custodian confirmed", by="ana", id=cid).version == note.version
    cases.append_event(case.id, "LLMDecisionProposed", {"action": "retry"}, actor_type="agent")
    timeline = cases.timeline(case.id)
    assert [e.type for e in timeline] == [
        "CaseCreated",
        "TriageCompleted",
        "CaseCommented",
        "LLMDecisionProposed",
    ]
    assert [e.version for e in timeline] == [1, 2, 3, 4]
    assert timeline[1].payload == {"score": 3} and timeline[1].actor_id == "triage"
    assert [e.type for e in cases.timeline(case.id, after=2, limit=1)] == ["CaseCommented"]
    assert cases.get(case.id).version == 1  # events beside the case leave its fields alone
    with pytest.raises(NotFound):
        cases.append_event(uuid.uuid4(), "X", {})
    with pytest.raises(NotFound):
        cases.timeline(uuid.uuid4())


def test_fixed_timestamps_make_the_history_repeatable(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)

    def history() -> tuple[Case, list[tuple[str, dt.datetime]]]:
        case = cases.create("bottleneck", "Backlog", at=T0, score=5)
        cases.comment(case.id, "seen", at=T0 + dt.timedelta(minutes=5))
        cases.transition(case.id, "in_progress", at=T0 + dt.timedelta(hours=1))
        cases.append_event(case.id, "Nudged", {}, at=T0 + dt.timedelta(hours=2))
        done = cases.transition(case.id, "resolved", at=T0 + dt.timedelta(days=1))
        return done, [(e.type, e.at) for e in cases.timeline(case.id)]

    one, two = history(), history()
    assert one[1] == two[1] and one[1][0] == ("CaseCreated", T0)
    done = one[0]
    assert (done.created_at, done.opened_at) == (T0, T0)
    assert done.resolved_at == done.updated_at == T0 + dt.timedelta(days=1)
    stats = cases.aggregates(since=T0, until=T0 + dt.timedelta(days=2))
    assert stats.resolution.count == 2 and stats.resolution.avg == 86400.0


def test_a_transaction_holds_the_event_and_the_change_together(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    cases_of(ledger, tenant_id)
    case = scope.cases.create("exception", "Atomic")
    with scope.transaction() as tx:
        loaded = tx.cases.get(case.id)
        tx.cases.append_event(case.id, "PolicyEvaluated", {"ok": True})
        tx.cases.transition(case.id, "analyzing", expected_version=loaded.version)
    assert scope.cases.get(case.id).status == "analyzing"
    with pytest.raises(RuntimeError), scope.transaction() as tx:
        tx.cases.append_event(case.id, "ResolutionSuggested", {"step": 1})
        tx.cases.transition(case.id, "resolved")
        raise RuntimeError("the agent failed after appending")
    assert scope.cases.get(case.id).status == "analyzing"
    assert types(scope.cases, case.id) == ["CaseCreated", "PolicyEvaluated", "CaseStatusChanged"]


def test_blocks_between_cases(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    a, b, c = (cases.create("bottleneck", name).id for name in ("a", "b", "c"))
    assert cases.block(a, b) is True and cases.block(a, b) is False
    assert cases.block(b, c, by="planner") is True
    assert [x.id for x in cases.blocking(a)] == [b] and [x.id for x in cases.blocked_by(c)] == [b]
    with pytest.raises(Conflict) as cycle:
        cases.block(c, a)
    assert cycle.value.field == "blocked"
    with pytest.raises(InvalidInput) as self_block:
        cases.block(a, a)
    assert self_block.value.field == "blocked"
    with pytest.raises(NotFound) as missing:
        cases.block(a, uuid.uuid4())
    assert missing.value.field == "blocked"
    assert cases.unblock(b, c) is True and cases.unblock(b, c) is False
    assert cases.block(c, a) is True  # no cycle any more
    assert types(cases, b) == ["CaseCreated", "CaseBlocked", "CaseBlocked", "CaseUnblocked"]
    assert cases.blocking(b) == [] and cases.blocked_by(b)[0].id == a
    assert cases.delete(a) is True
    assert cases.blocked_by(b) == [] and cases.blocking(c) == []
    with pytest.raises(NotFound):
        cases.blocking(a)


def test_links_to_memory_entities(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    cases = cases_of(ledger, tenant_id)
    acme = scope.memory.upsert("company", "ACME Corp").id
    bob = scope.memory.upsert("contact", "Bob").id
    case = cases.create("exception", "ACME margin call", entity="counterparty:ACME")
    assert cases.link_entity(case.id, acme, role="counterparty") is True
    assert cases.link_entity(case.id, acme, role="counterparty") is False
    assert cases.link_entity(case.id, bob) is True
    links = cases.linked_entities(case.id)
    assert [(x.entity_id, x.role, x.entity_name) for x in links] == [
        (acme, "counterparty", "ACME Corp"),
        (bob, "", "Bob"),
    ]
    assert [x.id for x in cases.linked_to(acme)] == [case.id]
    with pytest.raises(NotFound) as missing:
        cases.link_entity(case.id, uuid.uuid4())
    assert missing.value.field == "entity_id"
    assert cases.unlink_entity(case.id, bob) is True and cases.unlink_entity(case.id, bob) is False
    assert cases.link_entity(case.id, bob) is True  # linked again: a new event
    scope.memory.delete(acme)
    assert [x.entity_id for x in cases.linked_entities(case.id)] == [bob]
    assert cases.linked_to(acme) == []
    assert types(cases, case.id) == [
        "CaseCreated",
        "CaseLinked",
        "CaseLinked",
        "CaseUnlinked",
        "CaseLinked",
    ]


def test_delete_keeps_the_timeline(ledger: Ledger, tenant_id: str) -> None:
    cases = cases_of(ledger, tenant_id)
    case = cases.create("bottleneck", "Doomed", ref="B-9")
    assert cases.delete(case.id, by="admin") is True and cases.delete(case.id) is False
    with pytest.raises(NotFound):
        cases.get(case.id)
    assert types(cases, case.id) == ["CaseCreated", "CaseDeleted"]
    again = cases.create("bottleneck", "Doomed", ref="B-9")  # the ref is free again
    assert again.id != case.id


def test_a_second_tenant_sees_nothing(ledger: Ledger, tenant_id: str) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    mine = cases_of(ledger, tenant_id)
    case = mine.create("exception", "Secret", ref="EX-1", entity="acct:1", sla_deadline=T0)
    blocked = mine.create("exception", "Blocked")
    entity = ledger.tenant(tenant_id).memory.upsert("company", "Secret Co").id
    theirs = cases_of(ledger, other)
    assert theirs.list().items == [] and theirs.find_by_entity("acct:1") == []
    assert theirs.find_sla_breaches() == [] and theirs.aggregates().total == 0
    assert theirs.linked_to(entity) == []
    for call in (
        lambda: theirs.get(case.id),
        lambda: theirs.get_by_ref("EX-1"),
        lambda: theirs.timeline(case.id),
        lambda: theirs.transition(case.id, "analyzing"),
        lambda: theirs.update(case.id, title="x"),
        lambda: theirs.assign(case.id, "eve"),
        lambda: theirs.comment(case.id, "hi"),
        lambda: theirs.append_event(case.id, "Probe", {}),
        lambda: theirs.block(case.id, blocked.id),
        lambda: theirs.link_entity(case.id, entity),
        lambda: theirs.linked_entities(case.id),
        lambda: theirs.blocking(case.id),
        lambda: theirs.similar(case.id),
    ):
        with pytest.raises(NotFound):
            call()
    mine_theirs = theirs.create("exception", "Theirs")
    with pytest.raises(NotFound):
        theirs.block(mine_theirs.id, case.id)
    with pytest.raises(NotFound):
        mine.link_entity(case.id, ledger.tenant(other).memory.upsert("company", "X").id)
    assert theirs.delete(case.id) is False
    assert mine.get(case.id) == case and types(mine, case.id) == ["CaseCreated"]
