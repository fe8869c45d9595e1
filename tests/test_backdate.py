"""Fixed timestamps (``at=``) on every module that records time: the times they store, the
one rule they share (validation.aware_datetime with not_future), the feed order they leave
alone, statistics that see back-dated rows as old, and HTTP. Memory's own cases (merges,
batches, retention) are in test_memory_backdate.py."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from agentledger import InvalidInput, Ledger, NewEvent
from agentledger.events.follow_sync import Follower
from agentledger.validation import CLOCK_SKEW

# Microseconds and a zone other than UTC: read back, the same instant to the microsecond.
OLD = dt.datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
LATER = OLD + dt.timedelta(days=3, minutes=7, microseconds=1)
OLD_DAY = dt.date(2024, 3, 1)  # OLD's UTC day


def _future() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + CLOCK_SKEW + dt.timedelta(minutes=5)


def _soon() -> dt.datetime:
    """Ahead of this clock, within the allowance."""
    return dt.datetime.now(dt.UTC) + CLOCK_SKEW / 5


# -- the shared rule --------------------------------------------------------------------------

BAD = {
    "naive": OLD.replace(tzinfo=None),
    "text": "2024-03-01T09:30:15+02:00",  # a string is not a datetime in the library
    "before-year-1": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),
    "far-future": None,  # _future(), taken when the test runs
}


def _state(ledger: Ledger, tenant_id: str) -> tuple[Any, ...]:
    scope = ledger.tenant(tenant_id)
    return (
        scope.events.read_all(limit=1000),
        scope.decisions.list(),
        scope.runs.list(),
        scope.alerts.list(),
        scope.memory.stats().entities,
    )


@pytest.mark.parametrize("kind", list(BAD))
def test_every_at_refuses_a_bad_time_naming_at_and_writes_nothing(
    ledger: Ledger, tenant_id: str, kind: str
) -> None:
    scope = ledger.tenant(tenant_id)
    decision = scope.decisions.record("ship", decision_type="release")
    run = scope.runs.start("email")
    pending = scope.alerts.create(2, "pending one")
    acknowledged = scope.alerts.create(2, "acknowledged one")
    scope.alerts.acknowledge(acknowledged.id)
    before = _state(ledger, tenant_id)
    bad: Any = _future() if BAD[kind] is None else BAD[kind]
    calls: dict[str, Callable[[], object]] = {
        "memory.upsert": lambda: scope.memory.upsert("contact", "Ann", key="a", at=bad),
        "events.append": lambda: scope.events.append("s", "T", at=bad),
        "events.append_many": lambda: scope.events.append_many(
            [NewEvent(stream="s", type="T"), NewEvent(stream="s", type="T", at=bad)]
        ),
        "decisions.record": lambda: scope.decisions.record("x", decision_type="t", at=bad),
        "decisions.record_feedback": lambda: scope.decisions.record_feedback(
            decision.id, True, at=bad
        ),
        "runs.start": lambda: scope.runs.start("email", at=bad),
        "runs.finish": lambda: scope.runs.finish(run.id, at=bad),
        "alerts.create": lambda: scope.alerts.create(1, "late", at=bad),
        "alerts.acknowledge": lambda: scope.alerts.acknowledge(pending.id, at=bad),
        "alerts.resolve": lambda: scope.alerts.resolve(acknowledged.id, at=bad),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.field == "at", name
        if kind == "far-future":
            assert "in the future" in info.value.message, name
            assert "at most 5 minutes ahead" in info.value.message, name
    assert _state(ledger, tenant_id) == before


def test_a_time_within_the_clock_skew_is_taken(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    soon = _soon()
    assert scope.memory.upsert("contact", "Ann", key="a", at=soon).created_at == soon
    assert scope.events.append("s", "T", at=soon).created_at == soon
    assert scope.alerts.create(3, "soon", at=soon).created_at == soon


# -- events -----------------------------------------------------------------------------------


def test_an_events_time_is_stored_and_read_back_exactly(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    one = events.append("order:1", "Placed", {"n": 1}, at=OLD)
    assert one.created_at == OLD
    batch = events.append_many(
        [
            NewEvent(stream="order:1", type="Paid", at=LATER),
            NewEvent(stream="order:1", type="Noted"),  # no time of its own: now
        ]
    )
    assert [a.created_at for a in batch[:1]] == [LATER]
    assert batch[1].created_at > LATER
    stored = events.read_stream("order:1")
    assert [(e.type, e.version) for e in stored] == [("Placed", 1), ("Paid", 2), ("Noted", 3)]
    assert [e.created_at for e in stored[:2]] == [OLD, LATER]
    assert events.get(one.event_id).created_at == OLD
    assert [e.created_at for e in events.read_all()][:2] == [OLD, LATER]


def test_back_dated_events_keep_the_order_of_appending(ledger: Ledger, tenant_id: str) -> None:
    """Position is the order of recording: an event dated long ago, appended after newer
    ones, comes after them in the feed, in ``recent`` and to a reader past them."""
    events = ledger.tenant(tenant_id).events
    first = events.append("s", "First")
    old = events.append("s", "Old", at=OLD)
    last = events.append_many([NewEvent(stream="t", type="Older", at=OLD - dt.timedelta(days=1))])
    assert first.position < old.position < last[0].position
    feed = events.read_all()
    assert [e.type for e in feed] == ["First", "Old", "Older"]
    assert [e.type for e in events.read_all(first.position)] == ["Old", "Older"]
    assert [e.type for e in events.recent()] == ["Older", "Old", "First"]
    assert [e.version for e in events.read_stream("s")] == [1, 2]


def _tenant(ledger: Ledger) -> str:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tenant_id)
    return tenant_id


def test_a_follower_still_gets_back_dated_events(sync_ledger: Ledger) -> None:
    tenant_id = _tenant(sync_ledger)
    events = sync_ledger.tenant(tenant_id).events
    events.append("s", "Now")
    with Follower(sync_ledger.db, tenant_id, "projector") as follower:
        assert [e.type for e in follower.next_batch(timeout=1)] == ["Now"]
        follower.save()
        events.append("s", "Imported", at=OLD)
        events.append_many([NewEvent(stream="s", type="Imported too", at=LATER)])
        got = follower.next_batch(timeout=1)
    assert [(e.type, e.created_at) for e in got] == [("Imported", OLD), ("Imported too", LATER)]


def test_a_repeated_event_id_keeps_the_stored_time(ledger: Ledger, tenant_id: str) -> None:
    events = ledger.tenant(tenant_id).events
    event_id = uuid.uuid4()
    first = events.append("s", "T", event_id=event_id, at=OLD)
    again = events.append("s", "T", event_id=event_id, at=LATER)
    assert again.already_appended and again.created_at == OLD == first.created_at
    batch = events.append_many([NewEvent(stream="s", type="T", event_id=event_id)])
    assert batch[0].already_appended and batch[0].created_at == OLD


def test_an_undated_append_reads_no_time_per_event(sync_ledger: Ledger, database_url: str) -> None:
    """The common append's plan (append_events_v2 with p_dated false) has the per-event
    ``at`` folded to a constant and dates the rows with now(), as the column default did."""
    tenant_id = _tenant(sync_ledger)
    sync_ledger.tenant(tenant_id).events.append("warm", "T")
    with psycopg.connect(database_url, autocommit=True) as owner:
        try:
            owner.execute("LOAD 'auto_explain'")
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("auto_explain needs a superuser connection")
        for setting in ("log_nested_statements", "log_verbose"):
            owner.execute(f"SET auto_explain.{setting} = on")
        owner.execute("SET auto_explain.log_min_duration = 0")
        owner.execute("SET auto_explain.log_level = notice")
        owner.execute("SELECT set_config('agentledger.tenant_id', %s, false)", (tenant_id,))
        plans: dict[bool, str] = {}
        notices: list[str] = []
        owner.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        for dated in (False, True):
            notices.clear()
            event = {"event_id": str(uuid.uuid4()), "stream": "s", "type": "T"}
            if dated:
                event["at"] = OLD.isoformat()
            owner.execute(
                "SELECT * FROM agentledger.append_events_v2(%s::jsonb, NULL, %s)",
                (json.dumps([{**event, "actor_type": "system"}]), dated),
            ).fetchall()
            plans[dated] = next(n for n in notices if "Insert on agentledger.events" in n)
    # The plan (after the query's text) reads the key as ``->> 'at'::text``.
    assert "'at'::text" not in plans[False] and "NULL::timestamp with time zone" in plans[False]
    assert "'at'::text" in plans[True]


# -- decisions --------------------------------------------------------------------------------


def test_a_decision_and_its_feedback_take_their_times_and_date_their_events(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    decision = scope.decisions.record("escalate", decision_type="escalation", at=OLD)
    assert decision.created_at == OLD
    judged = scope.decisions.record_feedback(decision.id, True, by="ceo", at=LATER)
    assert (judged.created_at, judged.feedback_at) == (OLD, LATER)
    assert scope.decisions.get(decision.id) == judged
    timeline = scope.events.read_stream(f"decision:{decision.id}")
    assert [(e.type, e.created_at) for e in timeline] == [
        ("DecisionRecorded", OLD),
        ("FeedbackRecorded", LATER),
    ]
    again = scope.decisions.record_feedback(decision.id, True, by="ceo", at=OLD)  # a repeat
    assert again.feedback_at == LATER


def test_feedback_before_its_decision_is_refused(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    decision = scope.decisions.record("escalate", decision_type="escalation", at=LATER)
    with pytest.raises(InvalidInput, match=r"before decision .* was recorded") as info:
        scope.decisions.record_feedback(decision.id, False, at=OLD)
    assert info.value.field == "at"
    assert scope.decisions.get(decision.id).feedback_at is None
    assert len(scope.events.read_stream(f"decision:{decision.id}")) == 1


def test_acceptance_statistics_see_a_back_dated_decision_as_old(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    old = scope.decisions.record("a", decision_type="t", at=OLD)
    scope.decisions.record_feedback(old.id, True, at=LATER)
    scope.decisions.record("b", decision_type="t")
    days = scope.decisions.acceptance_stats(period="day")
    first = days[0]
    assert (first.period_start, first.decisions, first.accepted) == (
        dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
        1,
        1,
    )
    recent = scope.decisions.acceptance_stats(since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert [(s.decisions, s.with_feedback) for s in recent] == [(1, 0)]


# -- runs -------------------------------------------------------------------------------------


def test_a_runs_start_and_finish_are_stored_exactly(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    run = runs.start("email", at=OLD)
    done = runs.finish(run.id, tokens_in=5, at=LATER)
    assert (done.started_at, done.finished_at) == (OLD, LATER)
    assert done.duration_ms == (LATER - OLD) // dt.timedelta(milliseconds=1)
    assert runs.get(run.id) == done
    assert runs.finish(run.id, tokens_in=5, at=OLD) == done  # a repeat keeps the stored time
    (day,) = runs.stats()
    assert (day.day, day.runs, day.succeeded) == (OLD_DAY, 1, 1)
    assert runs.stats(since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)) == []


def test_an_undated_follow_up_of_a_record_dated_ahead_of_the_clock_is_not_before_it(
    ledger: Ledger, tenant_id: str
) -> None:
    """A time within the clock skew may be ahead of the server's clock; a change given no
    time then takes the record's own, never one before it."""
    scope = ledger.tenant(tenant_id)
    ahead = _soon()
    decision = scope.decisions.record("d", decision_type="t", at=ahead)
    assert decision.created_at == ahead
    fed = scope.decisions.record_feedback(decision.id, True)
    assert fed.feedback_at is not None and fed.feedback_at >= ahead
    alert = scope.alerts.create(1, "a", at=ahead)
    acknowledged = scope.alerts.acknowledge(alert.id)
    assert acknowledged.acknowledged_at is not None and acknowledged.acknowledged_at >= ahead
    resolved = scope.alerts.resolve(alert.id)
    assert resolved.resolved_at is not None and resolved.resolved_at >= ahead
    run = scope.runs.start("r", at=ahead)
    finished = scope.runs.finish(run.id)
    assert finished.finished_at is not None and finished.finished_at >= ahead
    assert finished.duration_ms is not None and finished.duration_ms >= 0


def test_a_finish_before_the_start_is_refused(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    run = runs.start("email", at=LATER)
    with pytest.raises(InvalidInput, match=r"before run .* started") as info:
        runs.finish(run.id, at=OLD)
    assert info.value.field == "at"
    assert runs.get(run.id) == run
    with pytest.raises(InvalidInput, match=r"before run .* started"):
        runs.finish(run.id, duration_ms=10, at=OLD)  # a given duration changes nothing
    assert runs.finish(run.id, error="boom", at=LATER).finished_at == LATER


# -- alerts -----------------------------------------------------------------------------------


def test_an_alerts_times_are_stored_exactly(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    before = dt.datetime.now(dt.UTC)
    alert = alerts.create(1, "Renewal overdue", dedup_key="renewal", at=OLD)
    assert (alert.created_at, alert.last_seen_at) == (OLD, OLD)
    assert alert.recorded_at >= before - CLOCK_SKEW  # stored now, whenever it happened
    acknowledged = alerts.acknowledge(alert.id, by="ops", at=OLD + dt.timedelta(hours=1))
    assert acknowledged.acknowledged_at == OLD + dt.timedelta(hours=1)
    resolved = alerts.resolve(alert.id, by="ops", at=LATER)
    assert (resolved.resolved_at, resolved.resolved_by) == (LATER, "ops")
    assert alerts.get(alert.id) == resolved


def test_dedup_bumps_span_the_occurrences_in_any_order(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    alert = alerts.create(2, "Disk full", dedup_key="disk", at=LATER)
    earlier = alerts.create(2, "Disk full", dedup_key="disk", at=OLD)
    assert earlier.id == alert.id and earlier.occurrences == 2
    assert (earlier.created_at, earlier.last_seen_at) == (OLD, LATER)
    middle = alerts.create(2, "Disk full", dedup_key="disk", at=OLD + dt.timedelta(days=1))
    assert (middle.created_at, middle.last_seen_at, middle.occurrences) == (OLD, LATER, 3)
    now = alerts.create(2, "Disk full", dedup_key="disk")
    assert now.created_at == OLD and now.last_seen_at > LATER
    assert now.recorded_at == alert.recorded_at


def test_an_alert_change_before_the_alert_is_refused(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    alert = alerts.create(1, "Late", at=LATER)
    with pytest.raises(InvalidInput, match=r"before alert .* was created") as info:
        alerts.acknowledge(alert.id, at=OLD)
    assert info.value.field == "at"
    assert alerts.get(alert.id) == alert
    acknowledged = alerts.acknowledge(alert.id, at=LATER + dt.timedelta(hours=2))
    with pytest.raises(InvalidInput, match=r"before alert .* was acknowledged") as info:
        alerts.resolve(alert.id, at=LATER + dt.timedelta(hours=1))
    assert info.value.field == "at"
    assert alerts.get(alert.id) == acknowledged


def test_pending_alerts_list_a_back_dated_alert_as_old(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    new = alerts.create(2, "new")
    old = alerts.create(2, "old", at=OLD)
    assert [a.id for a in alerts.pending()] == [old.id, new.id]
    assert [a.id for a in alerts.list()] == [new.id, old.id]


# -- HTTP -------------------------------------------------------------------------------------


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _refused(response: httpx.Response, field: str = "at") -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


def test_http_event_writes_take_at(writer: httpx.Client) -> None:
    stream = f"import:{uuid.uuid4().hex[:8]}"
    one = writer.post("/v1/events", json={"stream": stream, "type": "A", "at": OLD.isoformat()})
    assert one.status_code == 201, one.text
    assert _time(one.json()["created_at"]) == OLD
    batch = writer.post(
        "/v1/events/batch",
        json={"events": [{"stream": stream, "type": "B", "at": LATER.isoformat()}]},
    )
    assert batch.status_code == 201, batch.text
    stored = writer.get(f"/v1/streams/{stream}/events").json()
    assert [(e["type"], _time(e["created_at"])) for e in stored] == [("A", OLD), ("B", LATER)]
    for at in (_future().isoformat(), OLD.replace(tzinfo=None).isoformat()):
        _refused(writer.post("/v1/events", json={"stream": stream, "type": "C", "at": at}))
        _refused(
            writer.post(
                "/v1/events/batch", json={"events": [{"stream": stream, "type": "C", "at": at}]}
            )
        )
    _refused(writer.post("/v1/events", json={"stream": stream, "type": "C", "at": "yesterday"}))
    assert len(writer.get(f"/v1/streams/{stream}/events").json()) == 2


def test_http_decisions_runs_and_alerts_take_at(writer: httpx.Client) -> None:
    at, later = OLD.isoformat(), LATER.isoformat()
    decision = writer.post("/v1/decisions", json={"decision": "d", "decision_type": "t", "at": at})
    assert decision.status_code == 201, decision.text
    assert _time(decision.json()["created_at"]) == OLD
    feedback = writer.post(
        f"/v1/decisions/{decision.json()['id']}/feedback", json={"accepted": True, "at": later}
    )
    assert feedback.status_code == 200, feedback.text
    assert _time(feedback.json()["feedback_at"]) == LATER

    run = writer.post("/v1/runs", json={"trigger_type": "email", "at": at})
    assert run.status_code == 201, run.text
    finished = writer.post(f"/v1/runs/{run.json()['id']}/finish", json={"at": later})
    assert finished.status_code == 200, finished.text
    assert (_time(finished.json()["started_at"]), _time(finished.json()["finished_at"])) == (
        OLD,
        LATER,
    )

    alert = writer.post("/v1/alerts", json={"tier": 2, "title": "old", "at": at})
    assert alert.status_code == 201, alert.text
    assert _time(alert.json()["created_at"]) == OLD
    assert _time(alert.json()["recorded_at"]) > LATER
    path = f"/v1/alerts/{alert.json()['id']}"
    too_early = writer.post(f"{path}/acknowledge", json={"at": (OLD - dt.timedelta(1)).isoformat()})
    _refused(too_early)
    acknowledged = writer.post(f"{path}/acknowledge", json={"by": "ops", "at": later})
    assert _time(acknowledged.json()["acknowledged_at"]) == LATER
    resolved = writer.post(f"{path}/resolve", json={"at": later})
    assert _time(resolved.json()["resolved_at"]) == LATER


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/decisions", {"decision": "d", "decision_type": "t"}),
        ("/v1/runs", {"trigger_type": "email"}),
        ("/v1/alerts", {"tier": 3, "title": "t"}),
    ],
)
def test_http_refuses_a_bad_at_naming_it(
    writer: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    before = writer.get(path).json()["items"]
    for at in (_future().isoformat(), OLD.replace(tzinfo=None).isoformat(), "soon", "0000-01-01"):
        _refused(writer.post(path, json={**body, "at": at}))
    assert writer.get(path).json()["items"] == before


def test_http_a_reader_cannot_back_date(reader: httpx.Client) -> None:
    response = reader.post("/v1/events", json={"stream": "s", "type": "T", "at": OLD.isoformat()})
    assert response.status_code == 403


def test_http_alert_stream_resumes_with_a_back_dated_alert(
    writer: httpx.Client, base: str, tenants: Any
) -> None:
    """Raised while a client was away and dated before the last alert it saw, an alert is
    still new to the client when it comes back."""
    seen = writer.post("/v1/alerts", json={"tier": 1, "title": "seen"}).json()
    missed = writer.post("/v1/alerts", json={"tier": 1, "title": "missed", "at": OLD.isoformat()})
    missed_id = missed.json()["id"]
    delivered: list[str] = []
    headers = {
        "Authorization": f"Bearer {tenants[0]['keys']['reader']}",
        "Last-Event-ID": seen["id"],
    }
    with (
        httpx.Client(base_url=base, timeout=10) as c,
        c.stream("GET", "/v1/alerts/stream", headers=headers) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("id: "):
                delivered.append(line.removeprefix("id: "))
                if delivered[-1] == missed_id:
                    break
    assert missed_id in delivered and seen["id"] not in delivered
