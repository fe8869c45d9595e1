"""Decisions and feedback, on both faces: events in the same transaction, feedback once."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from agentledger import Conflict, InvalidInput, Ledger, NotFound, Settings


def test_record_appends_an_event_in_the_same_transaction(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    run = scope.runs.start("email")
    d = scope.decisions.record(
        "Reply tomorrow",
        decision_type="triage",
        reasoning="not urgent",
        confidence=0.8,
        data={"channel": "email"},
        agent="baker",
        run_id=run.id,
    )
    assert (d.decision_type, d.confidence, d.agent, d.run_id) == ("triage", 0.8, "baker", run.id)
    assert d.accepted is None and d.feedback_at is None
    assert scope.decisions.get(d.id) == d
    [event] = scope.events.read_stream(f"decision:{d.id}")
    assert (event.type, event.actor_type, event.actor_id) == ("DecisionRecorded", "agent", "baker")
    assert event.payload["decision"] == "Reply tomorrow"
    # A failing transaction leaves neither the decision nor its event.
    with pytest.raises(RuntimeError), scope.transaction() as tx:
        lost = tx.decisions.record("Lost", decision_type="triage")
        raise RuntimeError("abort")
    with pytest.raises(NotFound):
        scope.decisions.get(lost.id)
    assert scope.events.read_stream(f"decision:{lost.id}") == []


def test_record_with_the_same_id_is_idempotent(ledger: Ledger, tenant_id: str) -> None:
    decisions = ledger.tenant(tenant_id).decisions
    did = uuid.uuid4()
    first = decisions.record("Buy", decision_type="trade", id=did)
    assert decisions.record("Buy", decision_type="trade", id=did) == first
    with pytest.raises(Conflict):
        decisions.record("Sell", decision_type="trade", id=did)
    assert len(ledger.tenant(tenant_id).events.read_stream(f"decision:{did}")) == 1


def test_feedback_is_set_once(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    d = scope.decisions.record("Escalate", decision_type="triage")
    fed = scope.decisions.record_feedback(d.id, False, reason="too early", by="ceo")
    assert (fed.accepted, fed.feedback_reason, fed.feedback_by) == (False, "too early", "ceo")
    assert fed.feedback_at is not None
    # The identical call again is a no-op; anything else is a Conflict.
    assert scope.decisions.record_feedback(d.id, False, reason="too early", by="ceo") == fed
    with pytest.raises(Conflict, match="already has feedback"):
        scope.decisions.record_feedback(d.id, True, by="ceo")
    assert scope.decisions.get(d.id) == fed
    stream = scope.events.read_stream(f"decision:{d.id}")
    assert [e.type for e in stream] == ["DecisionRecorded", "FeedbackRecorded"]
    assert stream[1].payload == {"accepted": False, "reason": "too early", "by": "ceo"}


def test_feedback_on_a_missing_decision_is_not_found(ledger: Ledger, tenant_id: str) -> None:
    with pytest.raises(NotFound) as info:
        ledger.tenant(tenant_id).decisions.record_feedback(uuid.uuid4(), True)
    assert info.value.field == "decision_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"decision": "", "decision_type": "t"}, "decision"),
        ({"decision": "a\x00", "decision_type": "t"}, "decision"),
        ({"decision": "a", "decision_type": "t", "confidence": 1.5}, "confidence"),
        ({"decision": "a", "decision_type": "t", "data": {"k": "\x00"}}, "data.k"),
        ({"decision": "a", "decision_type": "t", "data": {"k": "x" * 1_100_000}}, "data"),
        ({"decision": "a", "decision_type": "t", "run_id": str(uuid.uuid4())}, "run_id"),
    ],
)
def test_bad_decisions_are_refused_and_nothing_is_written(
    ledger: Ledger, tenant_id: str, kwargs: dict[str, Any], field: str
) -> None:
    scope = ledger.tenant(tenant_id)
    with pytest.raises((InvalidInput, NotFound)) as info:
        scope.decisions.record(**kwargs)
    assert info.value.field == field
    assert scope.decisions.list() == []
    assert scope.events.read_all() == []


def test_concurrent_different_feedback_one_wins(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    d = sync_ledger.tenant(tenant_id).decisions.record("Go", decision_type="t")
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def give(i: int) -> None:
        with Ledger(settings, migrate=False) as mine:
            barrier.wait()
            try:
                mine.tenant(tenant_id).decisions.record_feedback(d.id, i % 2 == 0, by=f"u{i}")
                outcomes.append("ok")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=give, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["ok"]
    stream = sync_ledger.tenant(tenant_id).events.read_stream(f"decision:{d.id}")
    assert [e.type for e in stream] == ["DecisionRecorded", "FeedbackRecorded"]


def test_acceptance_statistics_and_listing(ledger: Ledger, tenant_id: str) -> None:
    decisions = ledger.tenant(tenant_id).decisions
    made = []
    for i, (kind, agent, accepted) in enumerate(
        [
            ("triage", "a1", True),
            ("triage", "a1", False),
            ("triage", "a2", True),
            ("reply", "a2", None),
            ("reply", "a2", True),
        ]
    ):
        d = decisions.record(f"d{i}", decision_type=kind, agent=agent)
        if accepted is not None:
            decisions.record_feedback(d.id, accepted)
        made.append(d)
    by_type = {s.decision_type: s for s in decisions.acceptance_stats()}
    assert (by_type["triage"].decisions, by_type["triage"].accepted) == (3, 2)
    assert by_type["triage"].acceptance_rate == pytest.approx(2 / 3)
    assert (by_type["reply"].with_feedback, by_type["reply"].acceptance_rate) == (1, 1.0)
    both = decisions.acceptance_stats(by=["decision_type", "agent"], period="day")
    assert {(s.decision_type, s.agent, s.decisions) for s in both} == {
        ("triage", "a1", 2),
        ("triage", "a2", 1),
        ("reply", "a2", 2),
    }
    assert all(s.period_start is not None for s in both)
    [overall] = decisions.acceptance_stats(by=[])
    assert (overall.decisions, overall.rejected) == (5, 1)
    with pytest.raises(InvalidInput):
        decisions.acceptance_stats(period="hour")
    page = decisions.list(limit=2)
    rest = decisions.list(before=page[-1].id)
    assert [d.id for d in page + rest] == [d.id for d in reversed(made)]
    assert [d.decision for d in decisions.list(awaiting_feedback=True)] == ["d3"]
    assert len(decisions.list(agent="a1")) == 2


def test_decisions_are_tenant_scoped_and_never_deleted(
    ledger: Ledger, tenant_id: str, app_url: str
) -> None:
    import psycopg

    other = f"o-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(other)
    d = ledger.tenant(tenant_id).decisions.record("Mine", decision_type="t")
    with pytest.raises(NotFound):
        ledger.tenant(other).decisions.get(d.id)
    with pytest.raises(NotFound):
        ledger.tenant(other).decisions.record_feedback(d.id, True)
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", [tenant_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM agentledger.decisions")


def test_imported_decisions_count_on_their_day(ledger: Ledger, tenant_id: str) -> None:
    import datetime as dt

    decisions = ledger.tenant(tenant_id).decisions
    day = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    past = day - dt.timedelta(days=5)
    d = decisions.record("old call", decision_type="import", at=past)
    decisions.record_feedback(d.id, True)
    assert d.created_at == past
    stats = decisions.acceptance_stats(by=(), period="day")
    assert any(
        s.period_start is not None and s.period_start.date() == past.date() and s.accepted == 1
        for s in stats
    )
