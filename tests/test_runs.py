"""The run log, on both faces: start, finish once, truncation, statistics."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agentledger import IllegalTransition, InvalidInput, Ledger, NotFound
from agentledger.runs.ops import MAX_CONTENT


def test_start_and_finish(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    run = runs.start(
        "email", source_id="msg-1", content="hello", priority="high", entity_ref="contact:7"
    )
    assert (run.status, run.duration_ms, run.finished_at) == ("started", None, None)
    done = runs.finish(run.id, response_id="r-1", tokens_in=120, tokens_out=30)
    assert (done.status, done.tokens_in, done.tokens_out, done.response_id) == (
        "succeeded",
        120,
        30,
        "r-1",
    )
    assert done.duration_ms is not None and done.duration_ms >= 0
    with pytest.raises(IllegalTransition, match="cannot fail run in state 'succeeded'"):
        runs.finish(run.id, error="boom")
    failed = runs.finish(runs.start("cron").id, error="timeout", duration_ms=1500)
    assert (failed.status, failed.error, failed.duration_ms) == ("failed", "timeout", 1500)
    assert runs.get(run.id) == done
    with pytest.raises(NotFound):
        runs.finish(uuid.uuid4())


def test_repeated_start_id_returns_the_same_run(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    rid = uuid.uuid4()
    assert runs.start("email", id=rid) == runs.start("email", id=rid)
    assert len(runs.list()) == 1


def test_long_content_is_truncated_with_a_marker(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    run = runs.start("email", content="x" * (MAX_CONTENT + 5000))
    assert run.content is not None and len(run.content) == MAX_CONTENT
    kept = run.content.count("x")
    assert run.content.endswith(f"[truncated {MAX_CONTENT + 5000 - kept} characters]")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"trigger_type": ""}, "trigger_type"),
        ({"trigger_type": "t", "content": "a\x00b"}, "content"),
        ({"trigger_type": "t", "metadata": {"x": float("nan")}}, "metadata.x"),
    ],
)
def test_bad_runs_are_refused(
    ledger: Ledger, tenant_id: str, kwargs: dict[str, Any], field: str
) -> None:
    runs = ledger.tenant(tenant_id).runs
    with pytest.raises(InvalidInput) as info:
        runs.start(**kwargs)
    assert info.value.field == field
    assert runs.list() == []


def test_stats_and_listing(ledger: Ledger, tenant_id: str) -> None:
    runs = ledger.tenant(tenant_id).runs
    for ms in (100, 200, 300, 400):
        runs.finish(runs.start("email").id, duration_ms=ms, tokens_in=10, tokens_out=1)
    runs.finish(runs.start("cron").id, error="x", duration_ms=50)
    runs.start("cron")
    stats = {s.trigger_type: s for s in runs.stats()}
    email = stats["email"]
    assert (email.runs, email.succeeded, email.failed, email.tokens_in) == (4, 4, 0, 40)
    assert email.p50_ms == pytest.approx(250)
    assert email.p95_ms == pytest.approx(385)
    assert (stats["cron"].runs, stats["cron"].failed, stats["cron"].p50_ms) == (2, 1, 50)
    assert [s.trigger_type for s in runs.stats(trigger_type="cron")] == ["cron"]
    page = runs.list(limit=4)
    rest = runs.list(before=page[-1].id)
    assert len(page) + len(rest) == 6
    assert len({r.id for r in page + rest}) == 6
    assert [r.status for r in runs.list(status="started")] == ["started"]


def test_imported_runs_keep_their_times(ledger: Ledger, tenant_id: str) -> None:
    import datetime as dt

    runs = ledger.tenant(tenant_id).runs
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    run = runs.start("import", at=start)
    done = runs.finish(run.id, at=start + dt.timedelta(seconds=2))
    assert done.started_at == start and done.duration_ms == 2000
    with pytest.raises(InvalidInput, match="future"):
        runs.start("import", at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match="timezone"):
        runs.start("import", at=dt.datetime(2024, 1, 1))
