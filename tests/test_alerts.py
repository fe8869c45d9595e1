"""Tiered alerts, on both faces: dedup, lifecycle, pending by tier, NOTIFY."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from agentledger import (
    Alert,
    AlertNotice,
    Conflict,
    IllegalTransition,
    InvalidInput,
    Ledger,
    NotFound,
)
from agentledger.alerts import ALERTS_CHANNEL
from agentledger.config import Settings
from tests.races import both, rivals


def test_create_acknowledge_resolve(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    run = ledger.tenant(tenant_id).runs.start("email")
    a = alerts.create(
        "urgent",
        "Wire request",
        body="CFO asks",
        action_required=True,
        run_id=run.id,
        entity_ref="contact:1",
        case_ref="EX-1",
    )
    assert (a.tier, a.status, a.occurrences, a.run_id) == (1, "pending", 1, run.id)
    acked = alerts.acknowledge(a.id, by="ceo")
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "ceo")
    assert acked.acknowledged_at is not None
    with pytest.raises(IllegalTransition, match="cannot acknowledge alert in state 'acknowledged'"):
        alerts.acknowledge(a.id)
    done = alerts.resolve(a.id, by="ops")
    assert (done.status, done.resolved_by) == ("resolved", "ops")
    with pytest.raises(Conflict):
        alerts.resolve(a.id)
    # pending -> resolved directly is allowed.
    assert alerts.resolve(alerts.create(3, "fyi").id).status == "resolved"
    with pytest.raises(NotFound):
        alerts.acknowledge(uuid.uuid4())


def test_dedup_bumps_the_open_alert(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    first = alerts.create(2, "Disk full", dedup_key="disk:/")
    again = alerts.create(2, "Disk full", dedup_key="disk:/")
    assert again.id == first.id and again.occurrences == 2
    alerts.acknowledge(first.id)
    assert alerts.create(2, "Disk full", dedup_key="disk:/").occurrences == 3  # still open
    alerts.resolve(first.id)
    fresh = alerts.create(2, "Disk full", dedup_key="disk:/")
    assert fresh.id != first.id and fresh.occurrences == 1
    assert alerts.create(2, "No key").id != alerts.create(2, "No key").id


def test_pending_by_tier(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    info = alerts.create(3, "info")
    urgent = alerts.create(1, "urgent")
    important = alerts.create("important", "important")
    alerts.acknowledge(alerts.create(1, "seen").id)
    assert [a.id for a in alerts.pending()] == [urgent.id, important.id, info.id]
    assert [a.id for a in alerts.pending(1)] == [urgent.id]
    assert [a.title for a in alerts.list(status="acknowledged")] == ["seen"]
    assert len(alerts.list(tier=1)) == 2


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((0, "t"), {}, "tier"),
        (("critical", "t"), {}, "tier"),
        ((True, "t"), {}, "tier"),
        ((1, ""), {}, "title"),
        ((1, "t\x00"), {}, "title"),
        ((1, "t"), {"body": "b" * 100_001}, "body"),
        ((1, "t"), {"run_id": uuid.uuid4()}, "run_id"),
    ],
)
def test_bad_alerts_are_refused(
    ledger: Ledger, tenant_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    with pytest.raises((InvalidInput, NotFound)) as info:
        alerts.create(*args, **kwargs)
    assert info.value.field == field
    assert alerts.list() == []


def test_unknown_action_is_invalid(ledger: Ledger, tenant_id: str) -> None:
    from agentledger.alerts import ops

    a = ledger.tenant(tenant_id).alerts.create(1, "x")
    with pytest.raises(InvalidInput, match="not a alert action"):
        ops.transition(a.id, "snooze").start().send(None)


def test_new_alerts_notify_with_tenant_id_and_tier(sync_ledger: Ledger, tenant_id: str) -> None:
    alerts = sync_ledger.tenant(tenant_id).alerts
    with sync_ledger.db.listener(ALERTS_CHANNEL) as listener:
        a = alerts.create(1, "Fire", dedup_key="fire")
        notes = listener.wait(10)
        alerts.create(1, "Fire", dedup_key="fire")  # a repeat: no new notification
        assert listener.wait(0.2) == []
    assert [AlertNotice.parse(n.payload) for n in notes] == [
        AlertNotice(tenant_id=tenant_id, alert_id=a.id, tier=1)
    ]


def test_concurrent_repeats_make_one_alert(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    ids: list[uuid.UUID] = []
    barrier = threading.Barrier(6)

    def repeat() -> None:
        with Ledger(settings, migrate=False) as mine:
            barrier.wait()
            ids.append(mine.tenant(tenant_id).alerts.create(2, "Dup", dedup_key="k").id)

    threads = [threading.Thread(target=repeat) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1
    assert sync_ledger.tenant(tenant_id).alerts.get(ids[0]).occurrences == 6


def test_racing_retries_of_one_id_count_once(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    # A retry sent while the first try is still running, on another connection: with or
    # without a dedup key, every try answers with the one alert, counted once.
    with rivals(settings, sync_ledger, tenant_id, "alerts") as faces:
        for round_ in range(8):
            aid, key = uuid.uuid4(), (f"k{round_}" if round_ % 2 else None)
            got = both(faces, "create", 2, "Retry", dedup_key=key, id=aid)
            assert all(isinstance(a, Alert) and a.id == aid for a in got), got
            assert faces[0].get(aid).occurrences == 1


def test_alerts_are_tenant_scoped(ledger: Ledger, tenant_id: str) -> None:
    other = f"o-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(other)
    a = ledger.tenant(tenant_id).alerts.create(1, "Mine", dedup_key="k")
    theirs = ledger.tenant(other).alerts
    assert theirs.pending() == []
    with pytest.raises(NotFound):
        theirs.resolve(a.id)
    assert theirs.create(1, "Theirs", dedup_key="k").id != a.id
