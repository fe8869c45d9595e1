"""Seed 000 end to end: the store-back interface, the pipeline, the nine-check script, and a
pipeline that keeps every write exactly once through a real PostgreSQL outage."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentledger import Filter, Ledger, NewEntity, Settings
from agentledger.db import migrate
from agentledger.db.embedded import EmbeddedServer
from agentledger.db.spool import Spool
from examples.sentinel_storeback import (
    SentinelPipeline,
    SentinelResponse,
    SentinelStoreBack,
    TriggerEvent,
    sentinel_settings,
)
from examples.sentinel_storeback.seed_data import CONTACTS, load, seed_contacts
from tests.conftest import ROOT, server_dir

EXAMPLE = ROOT / "examples" / "sentinel_storeback"


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(data_dir), "PATH": ""}


@pytest.fixture
def store(sync_ledger: Ledger) -> SentinelStoreBack:
    return SentinelStoreBack(sync_ledger, tenant=f"s-{uuid.uuid4().hex[:10]}")


def test_the_script_prints_nine_ticks(database_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "scripts" / "test_storeback.py")],
        env=_env(database_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 9 and all(line.endswith("✓") for line in lines), result.stdout


def test_seed_data_loads_with_one_command_idempotently(database_url: str, tmp_path: Path) -> None:
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "seed_data.py")],
            env=_env(database_url, tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "loaded 10 seed contacts" in result.stdout
    settings = sentinel_settings(database_url=database_url, data_dir=tmp_path)
    with SentinelStoreBack(settings=settings) as store:
        contacts = seed_contacts(store)
    assert sorted(c["name"] for c in contacts) == sorted(c["name"] for c in CONTACTS)


def test_contacts_merge_without_overwriting_and_match_fuzzily(store: SentinelStoreBack) -> None:
    cid = store.upsert_contact(
        "John Smith", {"communication_style": "terse", "preferred_channel": "email"}
    )
    same = store.upsert_contact(
        "john  smith", {"communication_style": None, "response_pattern": "fast"}
    )
    assert same == cid and uuid.UUID(cid)
    found = store.get_contact_by_name("Jon Smth")
    assert found is not None and found["id"] == cid and found["similarity"] >= 0.3
    assert (found["communication_style"], found["response_pattern"]) == ("terse", "fast")
    assert store.get_contact_by_name("Qwerty Zxcvb") is None  # under the 0.3 threshold


def test_decisions_feedback_loop(store: SentinelStoreBack) -> None:
    did = store.log_decision("Decline the meeting", "calendar full", "low", "calendar")
    store.record_feedback(did, False, rejection_reason="always meet Marcus")
    store.record_feedback(did, False, rejection_reason="always meet Marcus")  # same: harmless
    decision = store.scope.decisions.get(did)
    assert (decision.accepted, decision.feedback_reason, decision.feedback_by) == (
        False,
        "always meet Marcus",
        "ceo",
    )
    assert (decision.confidence, decision.data["confidence"]) == (0.25, "low")
    stats = store.scope.decisions.acceptance_stats()
    assert (stats[0].decision_type, stats[0].rejected) == ("calendar", 1)


def test_alerts_deals_and_structured_context(store: SentinelStoreBack) -> None:
    cid = store.upsert_contact("Elena Rossi", {"preferred_channel": "phone"})
    deal = store.upsert_deal("Como Lakeside Hotel", {"value_eur": 12_000_000})
    store.upsert_deal("Old Deal", {"status": "closed"})
    tid = store.log_trigger("whatsapp", "wa-1", "Elena asks about Como", cid, "high")
    urgent = store.create_alert(1, "Call Elena", "today", True, tid, cid, deal)
    info = store.create_alert(3, "FYI")
    store.acknowledge_alert(info)
    did = store.log_decision("Call back", "she prefers phone", "high", "whatsapp")
    assert [d["name"] for d in store.get_active_deals()] == ["Como Lakeside Hotel"]
    pending = store.get_pending_alerts()
    assert [a["id"] for a in pending] == [urgent, info]  # unresolved, most urgent first
    assert pending[0]["entity_ref"] == f"contact:{cid}" and pending[0]["run_id"] == tid
    assert [a["id"] for a in store.get_pending_alerts(tier=3)] == [info]
    context = store.get_structured_context("Elena Rosi")
    assert context["contact_profile"]["id"] == cid
    assert [d["id"] for d in context["active_deals"]] == [deal]
    assert [a["id"] for a in context["pending_alerts"]] == [urgent, info]
    assert [d["id"] for d in context["recent_decisions"]] == [did]
    assert store.get_structured_context()["contact_profile"] is None
    store.resolve_alert(urgent)
    assert [a["id"] for a in store.get_pending_alerts()] == [info]


def test_active_deals_are_all_found_among_more_than_a_page_of_deals(
    store: SentinelStoreBack,
) -> None:
    """A listing page holds 1000 deals: an active deal older than 1000 closed ones is
    still returned, by get_active_deals and by the structured context."""
    active = store.upsert_deal("Big Active Deal", {"status": "active"})
    unset = store.upsert_deal("Deal Without Status", {"value_eur": 1})
    store.scope.memory.upsert_many(
        [
            NewEntity(kind="deal", name=f"closed {i}", attrs={"status": "closed"})
            for i in range(1000)
        ]
    )
    assert sorted(d["id"] for d in store.get_active_deals()) == sorted([active, unset])
    context = store.get_structured_context()
    assert sorted(d["id"] for d in context["active_deals"]) == sorted([active, unset])


def test_an_urgent_alert_comes_first_behind_more_than_a_page_of_info_alerts(
    store: SentinelStoreBack,
) -> None:
    """A listing page holds 1000 alerts: the oldest alert, the only urgent one, still
    comes first, and every unresolved alert is returned."""
    urgent = store.create_alert(1, "URGENT: contract expires today")
    acknowledged = store.create_alert(2, "Important, seen")
    store.acknowledge_alert(acknowledged)
    with store.scope.transaction() as tx:
        for i in range(1000):
            tx.alerts.create(3, f"info {i}")
    pending = store.get_pending_alerts()
    assert len(pending) == 1002
    assert [a["id"] for a in pending[:2]] == [urgent, acknowledged]
    assert {a["tier"] for a in pending[2:]} == {3}
    context = store.get_structured_context()
    assert [a["id"] for a in context["pending_alerts"]] == [a["id"] for a in pending]
    assert [a["id"] for a in store.get_pending_alerts(tier=1)] == [urgent]


def _trigger(i: int) -> TriggerEvent:
    return TriggerEvent(
        type="email",
        source_id=f"msg-{i}",
        content=f"Message {i} about the Berlin office lease" * 3,
        contact_name="Marcus Weber",
        priority="normal",
    )


def _respond(trigger: TriggerEvent, context: dict[str, Any]) -> SentinelResponse:
    i = int(trigger.source_id.split("-")[1])
    return SentinelResponse(
        contact_updates=[{"name": f"Contact {i % 5}", "last_contact": f"2026-02-{i % 28 + 1:02d}"}],
        decisions_log=[{"decision": f"Reply to {i}", "reasoning": "routine", "confidence": "high"}],
        alerts=[{"tier": "important", "title": f"Follow up {i}", "action_required": True}],
        metadata={"pipeline_duration_ms": 10 + i, "tokens_estimated": 100 + i},
        summary=f"Marcus wrote about the Berlin office lease, message {i}.",
    )


def test_pipeline_stores_back_and_finds_similar_interactions(store: SentinelStoreBack) -> None:
    pipeline = SentinelPipeline(store)
    for i in range(3):
        pipeline.run(_trigger(i), _respond)
    report = pipeline.store_back(
        _trigger(9),
        SentinelResponse(summary="The Como hotel renovation budget was approved by the board."),
    )
    assert (report.spooled, report.failed) == (0, [])
    runs = store.scope.runs.list()
    assert len(runs) == 4 and all(r.status == "succeeded" for r in runs)
    assert {r.tokens_in for r in runs} == {100, 101, 102, 0}
    assert len(store.scope.decisions.list()) == 3 and len(store.scope.alerts.list()) == 3
    assert store.scope.events.stream_version(f"trigger:{report.trigger_id}") == 1
    similar = store.similar_interactions("budget for renovating the hotel at Como", limit=1)
    assert similar[0]["trigger_id"] == report.trigger_id
    context = pipeline.retrieve_context(_trigger(5))
    assert context["contact_profile"] is None  # Marcus is not a contact of this tenant
    assert isinstance(context["similar_interactions"], list)
    # by embedding with pgvector (all four, nearest first), else by full text (the three)
    similar = store.similar_interactions("the Berlin office lease", limit=10)
    assert {s["trigger_id"] for s in similar} >= {str(r.id) for r in runs[1:]}


# --- a real outage -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(server_dir())  # durable: fsync on, as in production
    srv.start()
    migrate.upgrade(srv.url())
    yield srv
    srv.stop(mode="immediate")
    shutil.rmtree(srv.data_dir, ignore_errors=True)


def _outage_settings(server: EmbeddedServer, tmp_path: Path) -> Settings:
    return sentinel_settings(
        database_url=server.url(), data_dir=tmp_path, spool_dir=tmp_path / "spool"
    )


def _stored(store: SentinelStoreBack) -> dict[str, int]:
    scope = store.scope
    runs = scope.runs.list(limit=1000)
    return {
        "triggers": len(runs),
        "finished": sum(r.status == "succeeded" for r in runs),
        "decisions": len(scope.decisions.list(limit=1000)),
        "alerts": len(scope.alerts.list(limit=1000)),
        "alert_occurrences": sum(a.occurrences for a in scope.alerts.list(limit=1000)),
        "interactions": len(scope.memory.list(Filter(kind="interaction"), limit=1000)),
        "contacts": len(scope.memory.list(Filter(kind="contact"), limit=1000)),
        "events": sum(scope.events.stream_version(f"trigger:{r.id}") for r in runs),
    }


@pytest.mark.slow
def test_pipeline_survives_a_real_outage_and_stores_everything_once(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    total, stop_at, start_at = 24, 8, 14
    with Ledger(_outage_settings(server, tmp_path), migrate=False) as ledger:
        store = SentinelStoreBack(ledger, tenant=f"o-{uuid.uuid4().hex[:8]}")
        pipeline = SentinelPipeline(store)
        spooled_per_trigger = []
        for i in range(total):
            if i == stop_at:
                server.stop(mode="immediate")  # a crash: no clean shutdown
            if i == start_at:
                server.start()
            response = _respond(_trigger(i), {})
            pipeline.retrieve_context(_trigger(i))  # reads while down: empty context, quickly
            report = pipeline.store_back(_trigger(i), response)  # never raises
            assert report.failed == [], report
            spooled_per_trigger.append(report.spooled)
        written, spooled = store.written, store.spooled
        replayed = ledger.replay_spool()
        status = ledger.spool_status()
        assert status is not None and (status.pending, status.dead) == (0, 0)
        stored = _stored(store)
    counts = {"written": written, "spooled": spooled, "replayed_at_end": replayed, **stored}
    print(f"\noutage counts: {counts}")
    assert sum(spooled_per_trigger[stop_at:start_at]) > 0
    assert spooled_per_trigger[:stop_at] == [0] * stop_at
    assert stored == {
        "triggers": total,
        "finished": total,
        "decisions": total,
        "alerts": total,
        "alert_occurrences": total,
        "interactions": total,
        "contacts": 5,
        "events": total,
    }


REPLAYER = """
import sys
from agentledger import Ledger, Settings
settings = Settings.build(database_url=sys.argv[1], spool_dir=sys.argv[2], data_dir=sys.argv[3])
with Ledger(settings, migrate=False) as ledger:
    print(ledger.replay_spool())
"""


@pytest.mark.slow
def test_a_replay_killed_halfway_then_resumed_is_exactly_once(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    settings = _outage_settings(server, tmp_path)
    total = 40
    with Ledger(settings, migrate=False) as ledger:
        store = SentinelStoreBack(ledger, tenant=f"k-{uuid.uuid4().hex[:8]}")
        load(store)
        pipeline = SentinelPipeline(store)
        server.stop(mode="immediate")
        try:
            for i in range(total):
                assert pipeline.store_back(_trigger(i), _respond(_trigger(i), {})).failed == []
        finally:
            server.start()
        spooled = store.spooled
    assert spooled == total * 7  # trigger, contact, decision, alert, result, summary, event
    spool = Spool(tmp_path / "spool")
    proc = subprocess.Popen(
        [sys.executable, "-c", REPLAYER, server.url(), str(spool.directory), str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    while not (spool.done.exists() and len(spool.done.read_text().split()) >= 20):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    replayed_before_kill = len(spool.done.read_text().split())
    assert 0 < replayed_before_kill < spooled, "the kill must land mid-replay"
    with Ledger(settings, migrate=False) as ledger:
        store = SentinelStoreBack(ledger, tenant=store.tenant)
        replayed_after = ledger.replay_spool()
        stored = _stored(store)
    print(
        f"\nkill-during-replay counts: spooled={spooled} "
        f"replayed_before_kill={replayed_before_kill} replayed_after={replayed_after} "
        f"stored={stored}"
    )
    assert stored == {
        "triggers": total,
        "finished": total,
        "decisions": total,
        "alerts": total,
        "alert_occurrences": total,
        "interactions": total,
        "contacts": 10 + 5,
        "events": total,
    }
