"""The console's case pages: the table with its filters and keyset pages, one case with
its timeline, links and blocks, the supervisor view showing what the library aggregates,
to the signed-in tenant only; moves, assignment and comments take the writer role and the
CSRF token."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentledger import Ledger, Settings
from agentledger.api import create_app
from agentledger.cases import Case
from agentledger.ledger import TenantScope
from tests.test_console_roles import _console, _writes

KIND = "exception"


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


@pytest.fixture(scope="module")
def scope(sync_ledger: Ledger, tenants: Any) -> TenantScope:
    """The first tenant, through the library, with the seed's exception lifecycle."""
    scope = sync_ledger.tenant(tenants[0]["id"])
    scope.cases.define_kind(
        KIND,
        ["open", "analyzing", "resolved", "escalated"],
        transitions={"open": ["analyzing"], "analyzing": ["resolved", "escalated"]},
        terminal=["resolved"],
    )
    return scope


@pytest.fixture(scope="module")
def made(scope: TenantScope) -> list[Case]:
    """Six cases across severities, domains and owners: two past their SLA deadline, one
    resolved after two hours."""
    now = dt.datetime.now(dt.UTC)
    cases = scope.cases
    spec: list[dict[str, Any]] = [
        {"severity": "critical", "domain": "Finance", "owner": "ana", "score": 9.0},
        {"severity": "high", "domain": "Finance", "owner": "bo", "score": 7.0},
        {"severity": "high", "domain": "Ops", "score": 5.0},
        {"severity": "low", "domain": "Ops", "owner": "ana", "score": 2.0},
        {"severity": "medium", "score": 4.0},
        {"domain": "Finance"},
    ]
    out = []
    for n, fields in enumerate(spec):
        late: dict[str, Any] = {"sla_deadline": now - dt.timedelta(hours=1)} if n in (0, 2) else {}
        created = cases.create(
            KIND,
            f"Case {n} <b>fail</b>",
            ref=f"EX-{n}",
            body="Trade 77 did not settle.",
            at=now - dt.timedelta(hours=5),
            **fields,
            **late,
        )
        out.append(created)
    cases.transition(out[3].id, "analyzing", at=now - dt.timedelta(hours=4))
    out[3] = cases.transition(out[3].id, "resolved", at=now - dt.timedelta(hours=3))
    return out


def _ids(page: str) -> list[str]:
    return re.findall(r'<tr data-case="([^"]+)">', page)


def _next(page: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def test_the_table_filters_orders_and_walks_the_library_s_pages(
    scope: TenantScope, made: list[Case], browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    reader, _ = browsers["reader"]
    page = reader.get("/console/cases")
    assert page.status_code == 200
    assert _ids(page.text) == [str(c.id) for c in scope.cases.list().items]
    assert "Case 0 &lt;b&gt;fail&lt;/b&gt;" in page.text and "<b>fail" not in page.text
    assert 'class="pill sev-critical">critical' in page.text
    for params, expected in [
        ({"severity": "high"}, scope.cases.list(severity="high").items),
        (
            {"domain": "Finance", "owner": "ana"},
            scope.cases.list(domain="Finance", owner="ana").items,
        ),
        ({"status": "resolved"}, scope.cases.list(status="resolved").items),
        ({"breached": "1", "order": "sla_deadline"}, scope.cases.find_sla_breaches()),
    ]:
        shown = reader.get("/console/cases", params=params).text
        assert _ids(shown) == [str(c.id) for c in expected], params
    assert len(_ids(reader.get("/console/cases", params={"breached": "1"}).text)) == 2

    walked: list[str] = []
    url: str | None = "/console/cases?order=score&limit=2"
    while url is not None:
        shown = reader.get(url).text
        walked += _ids(shown)
        url = _next(shown)
    assert walked == [str(c.id) for c in scope.cases.list(order="score").items]
    assert len(walked) == len(made)
    refused = reader.get("/console/cases", params={"cursor": "nope", "order": "score"})
    assert refused.status_code == 200 and "cursor" in refused.text and _ids(refused.text) == []


def test_a_case_page_shows_its_timeline_links_and_blocks(
    scope: TenantScope, made: list[Case], browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    one, other = made[1], made[2]
    entity = scope.memory.upsert("company", "ACME Clearing")
    scope.cases.link_entity(one.id, entity.id, role="counterparty")
    scope.cases.block(one.id, other.id)
    scope.cases.comment(one.id, "Called the desk <at once>", by="ana")
    reader, _ = browsers["reader"]
    page = reader.get(f"/console/cases/{one.id}")
    assert page.status_code == 200 and "Trade 77 did not settle." in page.text
    events = re.findall(r'<tr data-event="([^"]+)">', page.text)
    assert events == [e.type for e in scope.cases.timeline(one.id)]
    assert events[0] == "CaseCreated" and events[-1] == "CaseCommented"
    assert "Called the desk &lt;at once&gt;" in page.text
    assert f'/console/memory/{entity.id}"' in page.text and "counterparty" in page.text
    assert f'data-blocking="{other.id}"' in page.text
    blocked = reader.get(f"/console/cases/{other.id}").text
    assert f'data-blocked-by="{one.id}"' in blocked
    assert "→ analyzing</button>" not in page.text and "Comment</button>" not in page.text

    intruder, _ = browsers["intruder"]
    theirs = intruder.get(f"/console/cases/{one.id}")
    assert theirs.status_code == 404 and "does not exist" in theirs.text
    assert "ACME" not in theirs.text and "Case 1" not in theirs.text
    listing = intruder.get("/console/cases").text
    assert _ids(listing) == [] and "Case 1" not in listing
    supervised = intruder.get("/console/cases/supervisor").text
    assert re.search(r'data-stat="total"><div class="n">0<', supervised)
    missing = reader.get(f"/console/cases/{uuid.uuid4()}")
    assert missing.status_code == 404


def _stat(page: str, name: str) -> str:
    found = re.search(rf'data-stat="{name}"><div class="n"[^>]*>([^<]*)<', page)
    assert found is not None, name
    return found.group(1)


def _counts(page: str, dim: str) -> dict[str, int]:
    rows = re.findall(
        rf'<tr data-count="{dim}:([^"]*)"><td>.*?</td><td class="num">(\d+)</td>', page
    )
    return {html.unescape(key): int(n) for key, n in rows}


def test_the_supervisor_view_shows_the_library_s_aggregates(
    scope: TenantScope, made: list[Case], browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    reader, _ = browsers["reader"]
    page = reader.get("/console/cases/supervisor")
    stats = scope.cases.aggregates()
    assert page.status_code == 200
    assert stats.total == len(made) and stats.sla_breached == 2 and stats.resolution.count == 1
    for name in ("total", "open", "sla_breached"):
        assert int(_stat(page.text, name)) == getattr(stats, name), name
    assert _stat(page.text, "resolution_p50") == "2.0h"  # opened 5h ago, resolved 3h ago
    for dim in ("status", "severity", "domain", "kind"):
        assert _counts(page.text, dim) == getattr(stats, f"by_{dim}"), dim
    assert page.text.count('<svg class="chart"') == 5
    assert "Cases by status" in page.text and "Time to resolve" in page.text
    finance = reader.get("/console/cases/supervisor", params={"domain": "Finance"}).text
    assert _counts(finance, "status") == scope.cases.aggregates(domain="Finance").by_status


def _token_headers(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token, "HX-Request": "true"}


def test_an_editor_moves_assigns_and_comments_with_the_token_only(
    scope: TenantScope, browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    case = scope.cases.create(KIND, "Margin call unanswered", severity="high")
    path = f"/console/cases/{case.id}"
    reader, reader_token = browsers["reader"]
    editor, token = browsers["writer"]
    refused = [
        reader.post(
            f"{path}/transition", data={"status": "analyzing"}, headers=_token_headers(reader_token)
        ),
        reader.post(f"{path}/comments", data={"text": "hi"}, headers=_token_headers(reader_token)),
        reader.post(f"{path}/assign", data={"owner": "x"}, headers=_token_headers(reader_token)),
        editor.post(f"{path}/transition", data={"status": "analyzing"}),  # no token
        editor.post(f"{path}/comments", data={"text": "hi", "csrf": "stale"}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert scope.cases.get(case.id).version == 1 and len(scope.cases.timeline(case.id)) == 1

    page = editor.get(path).text
    assert "→ analyzing</button>" in page and "→ resolved</button>" not in page
    moved = editor.post(
        f"{path}/transition",
        data={"status": "analyzing", "reason": "triaged", "expected_version": "1"},
        headers=_token_headers(token),
    )
    assert moved.status_code == 200 and moved.headers["HX-Trigger"] == "case-changed"
    assert "→ resolved</button>" in moved.text and "→ escalated</button>" in moved.text
    stale = editor.post(
        f"{path}/transition",
        data={"status": "resolved", "expected_version": "1"},
        headers=_token_headers(token),
    )
    assert stale.status_code == 200 and "not the expected 1" in stale.text
    illegal = editor.post(
        f"{path}/transition", data={"status": "open"}, headers=_token_headers(token)
    )
    assert "analyzing" in illegal.text and 'class="error' in illegal.text
    assigned = editor.post(f"{path}/assign", data={"owner": "bo"}, headers=_token_headers(token))
    assert "<strong data-owner>bo</strong>" in assigned.text
    commented = editor.post(f"{path}/comments", data={"text": "Desk <called>", "csrf": token})
    assert commented.status_code == 200 and "Desk &lt;called&gt;" in commented.text

    stored = scope.cases.get(case.id)
    assert (stored.status, stored.owner) == ("analyzing", "bo")
    timeline = scope.cases.timeline(case.id)
    assert [e.type for e in timeline] == [
        "CaseCreated",
        "CaseStatusChanged",
        "CaseAssigned",
        "CaseCommented",
    ]
    assert timeline[1].payload["reason"] == "triaged"
    assert timeline[3].payload["text"] == "Desk <called>" and timeline[3].actor_type == "user"

    intruder, intruder_token = browsers["intruder"]
    theirs = intruder.post(
        f"{path}/transition", data={"status": "resolved"}, headers=_token_headers(intruder_token)
    )
    assert theirs.status_code == 404 and scope.cases.get(case.id).status == "analyzing"


def test_the_console_demands_what_the_api_demands(settings: Settings) -> None:
    writes = _writes(create_app(settings))
    for console, api in [
        ("transition", "transition"),
        ("assign", "assign"),
        ("comments", "comments"),
    ]:
        assert (
            writes[("POST", f"/console/cases/{{case_id}}/{console}")]
            == writes[("POST", f"/v1/cases/{{case_id}}/{api}")]
            == {"writer"}
        )
