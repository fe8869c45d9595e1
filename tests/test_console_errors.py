"""An error on a console page is a page: the API's status, title and detail for it, in HTML
a person can read (the API itself keeps answering problem+json)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentledger import Ledger
from tests.test_console_roles import _console


@pytest.fixture
def signed_in(base: str, sync_ledger: Ledger) -> Iterator[tuple[httpx.Client, str, str]]:
    """A browser signed in as a fresh tenant's writer: the browser, its CSRF token and the
    tenant's id."""
    tid = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tid)
    browser, csrf = _console(base, sync_ledger.tenant(tid).keys.create(role="writer").secret)
    yield browser, csrf, tid
    browser.close()


def _page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-status="{status}"' in response.text  # the console's error page
    return response.text


def test_a_malformed_id_in_the_path_is_a_page_naming_it(
    signed_in: tuple[httpx.Client, str, str],
) -> None:
    browser, _, _ = signed_in
    html = _page(browser.get("/console/memory/not-a-uuid"), 422)
    assert "The input is not valid." in html and "entity_id" in html


def test_a_change_without_the_csrf_token_is_a_page_saying_so(
    signed_in: tuple[httpx.Client, str, str], sync_ledger: Ledger
) -> None:
    browser, _, tid = signed_in
    alert = sync_ledger.tenant(tid).alerts.create(2, "disk full")
    html = _page(browser.post(f"/console/alerts/{alert.id}/acknowledge"), 403)
    assert "CSRF token" in html
    assert sync_ledger.tenant(tid).alerts.get(alert.id).status == "pending"


def test_a_refusal_of_the_library_is_a_page(
    signed_in: tuple[httpx.Client, str, str], sync_ledger: Ledger
) -> None:
    browser, _, tid = signed_in
    sync_ledger.tenants.archive(tid)
    html = _page(browser.get("/console/alerts"), 403)
    assert "archived" in html


def test_a_form_over_the_body_limit_is_a_page_and_the_api_a_problem(
    signed_in: tuple[httpx.Client, str, str], base: str
) -> None:
    browser, csrf, _ = signed_in
    huge = {"text": "x" * 2_100_000, "csrf_token": csrf}  # past max_body_bytes' 2,000,000
    html = _page(browser.post(f"/console/cases/{uuid.uuid4()}/comments", data=huge), 413)
    assert "2,000,000 bytes" in html
    api = httpx.post(f"{base}/v1/events", content=b"x" * 2_100_000, timeout=30)
    assert api.status_code == 413
    assert api.headers["content-type"] == "application/problem+json"


def test_the_api_keeps_answering_problem_json(base: str, tenants: Any) -> None:
    answer = httpx.get(f"{base}/v1/memory/entities/not-a-uuid")
    assert answer.status_code in (401, 422)
    assert answer.headers["content-type"] == "application/problem+json"
    keyed = httpx.get(
        f"{base}/v1/memory/entities/not-a-uuid",
        headers={"authorization": f"Bearer {tenants[0]['keys']['reader']}"},
    )
    assert keyed.status_code == 422
    assert keyed.headers["content-type"] == "application/problem+json"
