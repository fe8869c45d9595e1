"""The writes a pipeline's store-back spools are really repeatable: the same call again (a
retry after an unknown commit, a spool replay after a crash) stores nothing twice."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentledger import IllegalTransition, InvalidInput, Ledger
from agentledger.alerts import ops as alerts_ops
from agentledger.db.binding import Binding
from agentledger.db.spool import Spool
from agentledger.db.statements import Op
from agentledger.decisions import ops as decisions_ops
from agentledger.events import ops as events_ops
from agentledger.memory import ops as memory_ops
from agentledger.runs import ops as runs_ops


def test_the_store_back_writes_are_spoolable() -> None:
    rid = uuid.uuid4()
    ops: list[Op[Any]] = [
        runs_ops.start("email", id=rid),
        runs_ops.finish(rid, tokens_in=1),
        decisions_ops.record("d", decision_type="email", id=uuid.uuid4()),
        decisions_ops.record_feedback(uuid.uuid4(), True),
        alerts_ops.raise_(1, "t", id=uuid.uuid4()),
        events_ops.append_fields("s", "T", {}, event_id=uuid.uuid4()),
        memory_ops.upsert_keyed("contact", "Ann", by_name=True),
    ]
    assert all(op.spoolable and op.idempotent for op in ops)


def test_a_repeated_alert_id_counts_once(ledger: Ledger, tenant_id: str) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    first_id, bump_id = uuid.uuid4(), uuid.uuid4()
    first = alerts.create(2, "Disk full", dedup_key="disk", id=first_id)
    assert first.id == first_id and first.occurrences == 1
    assert alerts.create(2, "Disk full", dedup_key="disk", id=first_id) == first
    bumped = alerts.create(2, "Disk full", dedup_key="disk", id=bump_id)
    assert (bumped.id, bumped.occurrences) == (first_id, 2)
    again = alerts.create(2, "Disk full", dedup_key="disk", id=bump_id)
    assert (again.id, again.occurrences) == (first_id, 2)  # the bump is remembered
    plain = uuid.uuid4()
    assert alerts.create(3, "fyi", id=plain).id == plain
    assert alerts.create(3, "fyi", id=plain).id == plain
    assert len(alerts.list(limit=10)) == 2


def test_finishing_a_run_again_the_same_way_is_harmless(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    run = runs.start("email")
    done = runs.finish(run.id, response_id="r", duration_ms=12, tokens_in=3)
    assert runs.finish(run.id, response_id="r", duration_ms=12, tokens_in=3) == done
    assert runs.finish(run.id, response_id="r", tokens_in=3) == done  # duration not given
    with pytest.raises(IllegalTransition, match="cannot succeed run in state 'succeeded'"):
        runs.finish(run.id, response_id="other", tokens_in=3)
    with pytest.raises(IllegalTransition, match="cannot fail run"):
        runs.finish(run.id, error="boom")


def test_ids_are_made_before_the_operation_so_replays_repeat_them(
    sync_ledger: Any, tenant_id: str
) -> None:
    """The façades give every spoolable write its client-side id up front: running the very
    same operation twice (what a replay does) stores one row."""
    binding = Binding(tenant_id)
    for op in (
        runs_ops.start("cron", id=uuid.uuid4()),
        decisions_ops.record("go", decision_type="cron", id=uuid.uuid4()),
        alerts_ops.raise_(1, "once", id=uuid.uuid4()),
        events_ops.append_fields("x", "Happened", {"n": 1}, event_id=uuid.uuid4()),
        memory_ops.upsert_keyed("contact", "Ann Lee", by_name=True, attrs={"a": 1}),
    ):
        first = sync_ledger.db.run(op, binding)
        second = sync_ledger.db.run(op, binding)
        assert getattr(first, "id", None) == getattr(second, "id", None)
    scope = sync_ledger.tenant(tenant_id)
    assert len(scope.runs.list()) == 1
    assert len(scope.decisions.list()) == 1
    assert len(scope.alerts.list()) == 1
    assert scope.events.stream_version("x") == 1
    assert scope.memory.stats().entities == 1


def test_an_upsert_without_a_natural_key_is_not_repeatable(ledger: Ledger, tenant_id: str) -> None:
    with pytest.raises(InvalidInput, match="natural key"):
        ledger.db.run(memory_ops.upsert_keyed("note", "n"), Binding(tenant_id))
    memory = ledger.tenant(tenant_id).memory
    a = memory.upsert("contact", "Bo", by_name=True, attrs={"x": 1})
    b = memory.upsert("contact", "bo ", by_name=True, attrs={"x": None, "y": 2})
    assert a.id == b.id and b.attrs == {"x": 1, "y": 2}


def test_a_spooled_back_dated_upsert_keeps_its_moment(
    sync_ledger: Any, tenant_id: str, tmp_path: Path
) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=40)
    spool = Spool(tmp_path)
    spool.append(Binding(tenant_id), memory_ops.upsert_keyed("contact", "Ann", key="a", at=at))
    (entry,) = spool.pending()
    binding, op = spool.decode(entry)
    first = sync_ledger.db.run(op, binding)
    again = sync_ledger.db.run(op, binding)  # a replay after an unknown commit
    assert again.id == first.id and again.update_count == 1
    assert first.created_at == first.updated_at == again.created_at == again.updated_at == at
