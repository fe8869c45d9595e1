"""The console's session pages: the list, one session, and its lifecycle buttons by role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentledger import Settings
from agentledger.api import create_app
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


def test_session_pages_show_chunks_artifacts_and_counters(
    writer: httpx.Client, browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    sid = writer.post("/v1/sessions", json={"title": "Pricing <review>"}).json()["id"]
    writer.post(f"/v1/sessions/{sid}/chunks", json={"content": "<b>ana</b>: tangerine tiers"})
    writer.post(
        f"/v1/sessions/{sid}/artifacts",
        json={"name": "tiers.md", "content": "# Tiers", "artifact_type": "document"},
    )
    reader, _ = browsers["reader"]
    listing = reader.get("/console/sessions")
    assert listing.status_code == 200 and "Pricing &lt;review&gt;" in listing.text
    found = reader.get("/console/sessions", params={"q": "tangerine"})
    assert "<mark>tangerine</mark>" in found.text
    page = reader.get(f"/console/sessions/{sid}")
    assert page.status_code == 200 and "tiers.md" in page.text and "&lt;b&gt;ana" in page.text
    assert "Pause</button>" not in page.text  # a reader sees no actions
    intruder, _ = browsers["intruder"]
    theirs = intruder.get(f"/console/sessions/{sid}")
    assert theirs.status_code == 404 and "does not exist" in theirs.text
    assert "Pricing" not in intruder.get("/console/sessions").text


def test_only_a_writer_with_the_token_moves_a_session(
    writer: httpx.Client, browsers: dict[str, tuple[httpx.Client, str]]
) -> None:
    sid = writer.post("/v1/sessions", json={"title": "Standup"}).json()["id"]
    reader, reader_token = browsers["reader"]
    refused = reader.post(f"/console/sessions/{sid}/pause", headers={"X-CSRF-Token": reader_token})
    assert refused.status_code == 403
    editor, token = browsers["writer"]
    assert "Pause</button>" in editor.get(f"/console/sessions/{sid}").text
    assert editor.post(f"/console/sessions/{sid}/pause").status_code == 403  # no token
    moved = editor.post(f"/console/sessions/{sid}/pause", headers={"X-CSRF-Token": token})
    assert moved.status_code == 200 and "paused" in moved.text and "Resume</button>" in moved.text
    illegal = editor.post(f"/console/sessions/{sid}/archive", headers={"X-CSRF-Token": token})
    assert illegal.status_code == 200 and "cannot archive" in illegal.text
    assert writer.get(f"/v1/sessions/{sid}").json()["status"] == "paused"


def test_the_console_demands_what_the_api_demands(settings: Settings) -> None:
    writes = _writes(create_app(settings))
    console = writes[("POST", "/console/sessions/{session_id}/{action}")]
    assert console == writes[("POST", "/v1/sessions/{session_id}/transition")] == {"writer"}
