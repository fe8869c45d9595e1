"""The console's operator pages: queues with their dead letters, agents and runs, showing
what the library counts, to the signed-in tenant only; retrying and discarding a dead
letter takes the writer role and the CSRF token."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from agentledger import Ledger, NewTask, Outcome, Settings
from agentledger.api import create_app
from agentledger.ledger import TenantScope
from tests.test_console_roles import _console, _writes


@pytest.fixture
def browsers(base: str, tenants: Any) -> Iterator[dict[str, tuple[httpx.Client, str]]]:
    signed = {
        "reader": _console(base, tenants[0]["keys"]["reader"]),
        "writer": _console(base, tenants[0]["keys"]["writer"]),
        "intruder": _console(base, tenants[1]["keys"]["admin"]),
    }
    yield signed
    for browser, _ in signed.values():
        browser.close()


@pytest.fixture
def scope(sync_ledger: Ledger, tenants: Any) -> TenantScope:
    """The first tenant, through the library: the data the pages show."""
    return sync_ledger.tenant(tenants[0]["id"])


def _bury(scope: TenantScope, queue: str, count: int) -> list[int]:
    """``count`` dead tasks of ``queue`` (each failed on its only attempt); their ids."""
    tasks = scope.tasks
    tasks.enqueue_many(queue, [NewTask(max_attempts=1, input={"n": n}) for n in range(count)])
    outcomes = []
    for task in tasks.claim(queue, limit=count):
        assert task.claim_token is not None
        outcomes.append(Outcome(id=task.id, token=task.claim_token, action="fail", error="boom"))
    assert len(tasks.settle(outcomes).applied) == count
    return sorted(o.id for o in outcomes)


def _queue_row(html: str, queue: str) -> list[int]:
    """The numbers of ``queue``'s row in the depth table, in column order."""
    row = re.search(rf'<tr data-queue="{re.escape(queue)}">(.*?)</tr>', html, re.S)
    assert row is not None, f"no row for {queue}"
    return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row.group(1))]


def test_queues_page_shows_the_library_s_counts_and_dead_letters(
    scope: TenantScope, browsers: dict[str, tuple[httpx.Client, str]], database_url: str
) -> None:
    mail, jobs = f"mail-{uuid.uuid4().hex[:6]}", f"jobs-{uuid.uuid4().hex[:6]}"
    later = datetime.now(UTC) + timedelta(hours=1)
    scope.tasks.enqueue_many(mail, [{"n": n} for n in range(6)])
    scope.tasks.enqueue_many(mail, [NewTask(run_after=later) for _ in range(2)])
    [running, lapsed, done] = scope.tasks.claim(mail, limit=3, lease=600)
    scope.tasks.complete(done)
    with psycopg.connect(database_url) as owner:
        owner.execute(
            "UPDATE agentledger.tasks SET lease_expires_at = now() - interval '1 second' "
            "WHERE id = %s",
            (lapsed.id,),
        )
    letters = _bury(scope, jobs, 3)
    reader, _ = browsers["reader"]
    page = reader.get("/console/queues")
    assert page.status_code == 200
    depth = {d.queue: d for d in scope.tasks.depth()}
    for queue in (mail, jobs):
        d = depth[queue]
        shown = [d.ready, d.scheduled, d.retrying, d.running, d.expired, d.dead]
        assert _queue_row(page.text, queue) == [*shown, d.completed_last_minute]
    assert _queue_row(page.text, mail)[:6] == [3, 2, 0, 1, 1, 0]
    assert '<svg class="chart"' in page.text and 'data-series="dead"' in page.text
    for task_id in letters:
        assert f'id="task-{task_id}"' in page.text
    assert "Retry</button>" not in page.text  # a reader sees the letters, not the actions
    only = reader.get("/console/queues", params={"queue": mail})
    assert not any(f'id="task-{t}"' in only.text for t in letters)
    card = reader.get("/console/queues", params={"partial": "1"})
    assert "<html" not in card.text and _queue_row(card.text, jobs)[5] == 3
    intruder, _ = browsers["intruder"]
    theirs = intruder.get("/console/queues").text
    assert mail not in theirs and jobs not in theirs and f"task-{letters[0]}" not in theirs
    assert running.id not in {t.id for t in scope.tasks.dead_letters()}


def test_retry_and_discard_take_the_writer_role_and_the_token(
    scope: TenantScope, browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    retried, discarded, kept = _bury(scope, f"dl-{uuid.uuid4().hex[:6]}", 3)
    editor, token = browsers["writer"]
    assert "Retry</button>" in editor.get("/console/queues").text
    reader, reader_token = browsers["reader"]
    intruder, intruder_token = browsers["intruder"]
    refused = [
        reader.post(f"/console/tasks/{retried}/retry", headers={"X-CSRF-Token": reader_token}),
        editor.post(f"/console/tasks/{retried}/retry"),  # no token
        editor.post(f"/console/tasks/{retried}/discard", headers={"X-CSRF-Token": "x"}),
        editor.post(  # the right token, sent by another site's page
            f"/console/tasks/{retried}/retry",
            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    probe = intruder.post(
        f"/console/tasks/{retried}/discard", headers={"X-CSRF-Token": intruder_token}
    )
    assert probe.status_code == 404  # another tenant's id
    assert [t.id for t in scope.tasks.dead_letters(limit=3)] == [kept, discarded, retried]
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    moved = editor.post(f"/console/tasks/{retried}/retry", headers=headers)
    assert moved.status_code == 200 and "retrying" in moved.text
    assert moved.headers["HX-Trigger"] == "queues-changed"
    assert scope.tasks.get(retried).status == "pending"
    gone = editor.post(f"/console/tasks/{discarded}/discard", data={"csrf": token})
    assert gone.status_code == 200 and "discarded" in gone.text
    assert scope.tasks.get(discarded).status == "cancelled"
    again = editor.post(f"/console/tasks/{discarded}/retry", headers=headers)
    assert again.status_code == 200 and "cannot redrive task in state" in again.text
    assert "HX-Trigger" not in again.headers
    assert kept in {t.id for t in scope.tasks.dead_letters()}
    assert {retried, discarded}.isdisjoint(t.id for t in scope.tasks.dead_letters())


def test_agents_pages_show_status_heartbeat_and_capabilities(
    scope: TenantScope, browsers: dict[str, tuple[httpx.Client, str]], database_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    scope.agents.register(
        f"scout-{tag}",
        agent_type="pipeline",
        domain="sales",
        capabilities=["email", "crm"],
        config={"model": "small"},
    )
    scope.agents.record_run(f"scout-{tag}", status="busy")
    scope.agents.register(f"idle-{tag}", agent_type="batch")
    with psycopg.connect(database_url) as owner:  # silent for an hour: shown offline
        owner.execute(
            "UPDATE agentledger.agents SET last_heartbeat_at = now() - interval '1 hour' "
            "WHERE name = %s",
            (f"idle-{tag}",),
        )
    scope.decisions.record("Call back", decision_type="follow_up", agent=f"scout-{tag}")
    reader, _ = browsers["reader"]
    page = reader.get("/console/agents")
    assert page.status_code == 200
    agents = {a.name: a for a in scope.agents.list()}
    for name in (f"scout-{tag}", f"idle-{tag}"):
        row = re.search(rf'<tr data-agent="{name}">(.*?)</tr>', page.text, re.S)
        assert row is not None and f'class="pill st-{agents[name].status}"' in row.group(1)
    assert agents[f"scout-{tag}"].status == "busy" and agents[f"idle-{tag}"].status == "offline"
    for status in ("busy", "offline"):
        tile = re.search(rf'data-status="{status}"><div class="n">(\d+)</div>', page.text)
        assert tile is not None
        assert int(tile.group(1)) == sum(1 for a in agents.values() if a.status == status)
    busy = reader.get("/console/agents", params={"status": "busy"}).text
    assert f"scout-{tag}" in busy and f"idle-{tag}" not in busy
    detail = reader.get(f"/console/agents/scout-{tag}")
    assert detail.status_code == 200
    assert "crm" in detail.text and "&#34;model&#34;" in detail.text and "Call back" in detail.text
    intruder, _ = browsers["intruder"]
    assert f"scout-{tag}" not in intruder.get("/console/agents").text
    theirs = intruder.get(f"/console/agents/scout-{tag}")
    assert theirs.status_code == 404 and "does not exist" in theirs.text
    entity = scope.memory.upsert("contact", f"Ana {tag}", key=tag)
    assert reader.get(f"/console/memory/{entity.id}").status_code == 200
    gone = intruder.get(f"/console/memory/{entity.id}")  # another tenant's entity
    assert gone.status_code == 404 and f"Ana {tag}" not in gone.text
    scope.agents.register(f"weekly-{tag}", agent_type="research", heartbeat_timeout="never")
    with psycopg.connect(database_url) as owner:  # silent for an hour, yet not offline
        owner.execute(
            "UPDATE agentledger.agents SET last_heartbeat_at = now() - interval '1 hour' "
            "WHERE name = %s",
            (f"weekly-{tag}",),
        )
    listed = reader.get("/console/agents").text
    row = re.search(rf'<tr data-agent="weekly-{tag}">(.*?)</tr>', listed, re.S)
    assert row is not None and 'class="pill st-available"' in row.group(1)
    weekly = reader.get(f"/console/agents/weekly-{tag}")
    assert weekly.status_code == 200 and "keeps no heartbeat" in weekly.text


def test_runs_page_lists_filters_and_charts_runs(
    scope: TenantScope, browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    trigger = f"mail-{uuid.uuid4().hex[:6]}"
    for n in range(4):
        run = scope.runs.start(trigger, content=f"message {n}")
        error = "model timeout" if n == 3 else None
        scope.runs.finish(
            run.id, error=error, duration_ms=100 * (n + 1), tokens_in=50, tokens_out=7
        )
    reader, _ = browsers["reader"]
    page = reader.get("/console/runs", params={"trigger": trigger})
    assert page.status_code == 200
    runs = scope.runs.list(trigger_type=trigger)
    assert page.text.count("<tr data-run=") == len(runs) == 4
    assert "model timeout" in page.text and "400 ms" in page.text
    assert '<svg class="chart"' in page.text and "<path d=" in page.text  # durations
    assert 'data-series="tokens in"' in page.text
    failed = reader.get("/console/runs", params={"trigger": trigger, "status": "failed"})
    assert failed.text.count("<tr data-run=") == len(
        scope.runs.list(trigger_type=trigger, status="failed")
    )
    bad = reader.get("/console/runs", params={"before": "not-a-run"})
    assert bad.status_code == 200 and 'class="error"' in bad.text
    intruder, _ = browsers["intruder"]
    assert trigger not in intruder.get("/console/runs").text


def test_the_console_demands_what_the_api_demands(settings: Settings) -> None:
    writes = _writes(create_app(settings))
    console = writes[("POST", "/console/tasks/{task_id}/{action}")]
    assert console == writes[("POST", "/v1/tasks/{task_id}/{action}")] == {"writer"}


def test_the_overview_counts_every_pending_alert_and_shows_rates_as_percentages(
    scope: TenantScope, browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    with scope.transaction() as tx:
        for n in range(505):
            tx.alerts.create(1, f"urgent {n}")
        for n in range(3):
            tx.alerts.create(3, f"info {n}")
    kind = f"pick-{uuid.uuid4().hex[:6]}"
    for accepted in (True, False):
        decision = scope.decisions.record(f"{kind} {accepted}", decision_type=kind)
        scope.decisions.record_feedback(decision.id, accepted)
    counts = scope.alerts.pending_counts()
    assert counts[1] >= 505 and counts[3] >= 3
    reader, _ = browsers["reader"]
    page = reader.get("/console/")
    shown = re.findall(
        r'<div class="n"[^>]*>(\d+)</div><div class="l">(\w+) alerts pending', page.text
    )
    assert shown == [
        (str(counts[1]), "urgent"),
        (str(counts[2]), "important"),
        (str(counts[3]), "info"),
    ]
    rate = scope.decisions.acceptance_stats(by=(), period="day")[-1].acceptance_rate
    today = datetime.now(UTC).strftime("%b %d")
    assert f"<title>{today}: {rate:.0%}</title>" in page.text, rate
