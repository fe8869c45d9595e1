"""The console's writes obey the API's role rules and carry a CSRF token; every route of
every face that changes state demands a role."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agentledger import Settings
from agentledger.api import create_app
from agentledger.api.auth import platform_admin
from agentledger.web.auth import RoleCheck

SAFE = {"GET", "HEAD", "OPTIONS"}
# Routes that change state without a role: signing in is how a role is obtained.
OPEN_WRITES = {("POST", "/console/login")}


def _console(base: str, key: str) -> tuple[httpx.Client, str]:
    """A browser-like client signed into the console, and its CSRF token."""
    browser = httpx.Client(base_url=base, timeout=30)
    response = browser.post("/console/login", data={"key": key}, follow_redirects=True)
    assert response.status_code == 200, response.text
    token = re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', response.text)
    assert token is not None, "the signed-in page carries the CSRF token for htmx"
    return browser, token.group(1)


@pytest.fixture
def as_reader(base: str, tenants: Any) -> Iterator[tuple[httpx.Client, str]]:
    browser, token = _console(base, tenants[0]["keys"]["reader"])
    yield browser, token
    browser.close()


@pytest.fixture
def as_writer(base: str, tenants: Any) -> Iterator[tuple[httpx.Client, str]]:
    browser, token = _console(base, tenants[0]["keys"]["writer"])
    yield browser, token
    browser.close()


def _alert(writer: httpx.Client) -> str:
    body = {"tier": 1, "title": f"Disk full {uuid.uuid4().hex[:6]}"}
    created = writer.post("/v1/alerts", json=body)
    assert created.status_code == 201
    return str(created.json()["id"])


def _decision(writer: httpx.Client) -> str:
    created = writer.post("/v1/decisions", json={"decision": "Ship it", "decision_type": "t"})
    assert created.status_code == 201
    return str(created.json()["id"])


def test_a_reader_cannot_act_on_alerts_or_decisions(
    as_reader: tuple[httpx.Client, str], writer: httpx.Client
) -> None:
    browser, token = as_reader
    alert, decision = _alert(writer), _decision(writer)
    page = browser.get("/console/alerts")
    assert page.status_code == 200 and f"alert-{alert}" in page.text  # seen, not actionable
    assert "Acknowledge</button>" not in page.text and "Resolve</button>" not in page.text
    decisions = browser.get("/console/decisions")
    assert "Accept</button>" not in decisions.text and "awaiting feedback" in decisions.text
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    for action in ("acknowledge", "resolve"):
        response = browser.post(f"/console/alerts/{alert}/{action}", headers=headers)
        assert response.status_code == 403
        assert "writer role" in response.text  # the console's error page says why
    response = browser.post(
        f"/console/decisions/{decision}/feedback", data={"accepted": "true"}, headers=headers
    )
    assert response.status_code == 403
    assert writer.get(f"/v1/alerts/{alert}").json()["status"] == "pending"
    assert writer.get(f"/v1/decisions/{decision}").json()["accepted"] is None


def test_a_writer_acts_with_the_token_and_only_with_it(
    as_writer: tuple[httpx.Client, str], writer: httpx.Client
) -> None:
    browser, token = as_writer
    alert, decision = _alert(writer), _decision(writer)
    assert "Acknowledge</button>" in browser.get("/console/alerts").text
    refused = [
        browser.post(f"/console/alerts/{alert}/acknowledge"),  # no token
        browser.post(f"/console/alerts/{alert}/acknowledge", headers={"X-CSRF-Token": "x"}),
        browser.post(  # the right token, sent by another site's page
            f"/console/alerts/{alert}/acknowledge",
            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
        ),
        browser.post(f"/console/decisions/{decision}/feedback", data={"accepted": "true"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert writer.get(f"/v1/alerts/{alert}").json()["status"] == "pending"
    done = browser.post(f"/console/alerts/{alert}/acknowledge", headers={"X-CSRF-Token": token})
    assert done.status_code == 200 and "acknowledged" in done.text
    fed = browser.post(
        f"/console/decisions/{decision}/feedback",
        data={"accepted": "false", "csrf": token},
    )
    assert fed.status_code == 200 and "rejected" in fed.text
    assert writer.get(f"/v1/decisions/{decision}").json()["accepted"] is False


def test_signing_out_needs_the_token(as_reader: tuple[httpx.Client, str]) -> None:
    browser, token = as_reader
    assert browser.post("/console/logout").status_code == 403
    assert browser.get("/console/alerts").status_code == 200  # still signed in
    out = browser.post("/console/logout", data={"csrf": token})
    assert out.status_code == 303
    assert browser.get("/console/alerts").status_code == 303  # back to the sign-in page


def _roles(dependant: Dependant) -> set[str]:
    found = set()
    for sub in dependant.dependencies:
        if isinstance(sub.call, RoleCheck):
            found.add(sub.call.role)
        elif sub.call is platform_admin:
            found.add("platform")
        found |= _roles(sub)
    return found


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every endpoint, including those of included routers (which FastAPI may wrap)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _writes(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    return {
        (method, route.path): _roles(route.dependant)
        for route in _api_routes(app.routes)
        for method in (route.methods or set()) - SAFE
    }


def test_every_route_that_changes_state_demands_a_role(settings: Settings) -> None:
    writes = _writes(create_app(settings))
    assert any(path.startswith("/console/") for _, path in writes)
    unguarded = sorted(k for k, roles in writes.items() if not roles and k not in OPEN_WRITES)
    assert unguarded == []
    # The console demands what the API demands for the same action.
    same = {
        ("POST", "/console/alerts/{alert_id}/{action}"): ("POST", "/v1/alerts/{alert_id}/{action}"),
        ("POST", "/console/decisions/{decision_id}/feedback"): (
            "POST",
            "/v1/decisions/{decision_id}/feedback",
        ),
    }
    for console, api in same.items():
        assert writes[console] == writes[api] == {"writer"}, console
