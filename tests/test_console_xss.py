"""The console against cross-site scripting. What agents and users wrote is shown as text,
never as markup: a value holding HTML (a stored script, an attribute break-out) is escaped on
every page that shows it, search highlights included. Behind that, the console's answers let
no inline script run and no other site frame them, and no answer of the server is sniffed
into another content type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentledger import Ledger, NewEvent, Outcome
from tests.test_console_roles import _console

# Markup that runs script if a page emits it as HTML, whether between tags or in an
# attribute; the word before it makes full-text searches find and highlight it.
HOSTILE = "renewal \"'><img src=x onerror=alert(1)><script>alert(2)</script>"
RAW = ("<img src=x", "<script>alert")


@pytest.fixture(scope="module")
def written(sync_ledger: Ledger, tenants: Any) -> dict[str, str]:
    """Every kind of record the console shows, its text fields HOSTILE; their ids."""
    scope = sync_ledger.tenant(tenants[0]["id"])
    entity = scope.memory.upsert(
        "note", HOSTILE, summary=HOSTILE, attrs={"why": HOSTILE}, tags=["renewal"]
    )
    other = scope.memory.upsert("note", "other " + HOSTILE, summary=HOSTILE)
    scope.memory.relate(entity.id, other.id, "related_to", attrs={"why": HOSTILE})
    scope.events.append_many(
        [NewEvent(stream="renewal-" + HOSTILE, type="Noted" + HOSTILE, payload={"x": HOSTILE})]
    )
    decision = scope.decisions.record(
        HOSTILE, decision_type="renewal", reasoning=HOSTILE, data={"x": HOSTILE}, agent="bot"
    )
    scope.alerts.create(2, HOSTILE, body=HOSTILE, action_required=True, entity_ref=HOSTILE)
    run = scope.runs.start("manual", content=HOSTILE, entity_ref=HOSTILE)
    scope.runs.finish(run.id, error=HOSTILE)
    scope.agents.register("agent-x", domain=HOSTILE, capabilities=[HOSTILE], config={"x": HOSTILE})
    scope.tasks.enqueue("work", {"x": HOSTILE}, task_type=HOSTILE, max_attempts=1)
    (task,) = scope.tasks.claim("work", limit=1)
    assert task.claim_token is not None
    failed = Outcome(id=task.id, token=task.claim_token, action="fail", error=HOSTILE)
    scope.tasks.settle([failed])
    scope.cases.define_kind(
        "issue", ["open", "closed"], transitions={"open": ["closed"]}, terminal=["closed"]
    )
    case = scope.cases.create(
        "issue", HOSTILE, body=HOSTILE, domain=HOSTILE, owner=HOSTILE, attrs={"x": HOSTILE}
    )
    scope.cases.comment(case.id, HOSTILE, by=HOSTILE)
    session = scope.sessions.create(HOSTILE, participants=[HOSTILE], summary=HOSTILE)
    scope.sessions.add_chunk(session.id, HOSTILE, author=HOSTILE)
    scope.sessions.save_artifact(
        session.id, "notes", HOSTILE, artifact_type="report", metadata={"x": HOSTILE}
    )
    return {
        "entity": str(entity.id),
        "decision": str(decision.id),
        "case": str(case.id),
        "session": str(session.id),
    }


@pytest.fixture(scope="module")
def browser(base: str, tenants: Any) -> Iterator[httpx.Client]:
    client, _ = _console(base, tenants[0]["keys"]["reader"])
    yield client
    client.close()


def _pages(ids: dict[str, str]) -> list[str]:
    return [
        "/console/",
        "/console/memory",
        "/console/memory?q=renewal",
        f"/console/memory/{ids['entity']}",
        "/console/events",
        "/console/decisions",
        "/console/alerts",
        "/console/runs",
        "/console/agents",
        "/console/agents/agent-x",
        "/console/queues",
        "/console/cases",
        "/console/cases/supervisor",
        f"/console/cases/{ids['case']}",
        "/console/sessions",
        "/console/sessions?q=renewal",
        f"/console/sessions/{ids['session']}",
        f"/console/sessions/{ids['session']}?q=renewal",
    ]


def test_no_page_shows_stored_text_as_markup(
    written: dict[str, str], browser: httpx.Client
) -> None:
    shown: list[str] = []
    for path in _pages(written):
        response = browser.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        html = response.text
        leaks = [raw for raw in RAW if raw in html]
        assert not leaks, f"{path} shows stored text as markup: {leaks}"
        if "&lt;img src=x" in html:
            shown.append(path)
    # The hostile text is on the pages (escaped), so the check above looked at it.
    assert len(shown) >= len(_pages(written)) - 3, shown


def test_a_search_query_is_escaped_where_it_is_echoed(
    written: dict[str, str], browser: httpx.Client
) -> None:
    for path in ("/console/memory", "/console/sessions", "/console/cases", "/console/events"):
        response = browser.get(path, params={"q": HOSTILE})
        assert response.status_code in (200, 400), (path, response.text[:300])
        assert not [raw for raw in RAW if raw in response.text], path


def test_highlights_keep_their_marks_and_nothing_else(
    written: dict[str, str], browser: httpx.Client
) -> None:
    html = browser.get("/console/memory", params={"q": "renewal"}).text
    assert "<b>renewal</b>" in html
    html = browser.get("/console/sessions", params={"q": "renewal"}).text
    assert "<mark>renewal</mark>" in html


def test_console_answers_run_no_inline_script_and_are_not_framed(
    base: str, browser: httpx.Client
) -> None:
    signed_out = httpx.get(f"{base}/console/login")
    for response in (browser.get("/console/memory", params={"q": "renewal"}), signed_out):
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_api_answers_are_never_sniffed(base: str, written: dict[str, str], tenants: Any) -> None:
    key = tenants[0]["keys"]["reader"]
    content = httpx.get(
        f"{base}/v1/sessions/{written['session']}/artifacts/notes/content",
        headers={"authorization": f"Bearer {key}"},
    )
    assert content.status_code == 200 and HOSTILE in content.text
    assert content.headers["content-type"].startswith("text/plain")
    for response in (content, httpx.get(f"{base}/healthz"), httpx.get(f"{base}/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in response.headers
