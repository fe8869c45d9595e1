"""Races of cases and catalog operations on real concurrent connections: a case's detail
read beside its changes, a transition beside a kind redefinition, catalog versions beside
a schema replacement."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentledger import Ledger, Settings
from agentledger.errors import Conflict, InvalidInput
from tests.conftest import new_tenant
from tests.http_server import client

FULL: dict[str, Any] = {
    "statuses": ["open", "analyzing", "resolved", "escalated"],
    "transitions": {"open": ["analyzing"], "analyzing": ["resolved", "escalated"]},
    "terminal": ["resolved"],
}
SMALL: dict[str, Any] = {
    "statuses": ["open", "analyzing", "resolved"],
    "transitions": {"open": ["analyzing"], "analyzing": ["resolved"]},
    "terminal": ["resolved"],
}


@pytest.fixture(scope="module")
def second(settings: Settings) -> Iterator[Ledger]:
    """A ledger of its own pool: its calls never share a connection with sync_ledger's."""
    with Ledger(settings, migrate=False) as led:
        yield led


def _in_background(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # the outcome the test inspects
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _define(cases: Any, spec: dict[str, Any]) -> None:
    cases.define_kind(
        "ex", spec["statuses"], transitions=spec["transitions"], terminal=spec["terminal"]
    )


def test_a_move_into_a_status_a_redefinition_drops_names_the_status(
    sync_ledger: Ledger, second: Ledger
) -> None:
    tenant = new_tenant(sync_ledger)
    cases = sync_ledger.tenant(tenant).cases
    _define(cases, FULL)
    case = cases.create("ex", "c")
    cases.transition(case.id, "analyzing")
    # The redefinition drops 'escalated' and holds its transaction open while the move into
    # it starts on another connection, then commits: the move must read the new kind.
    with sync_ledger.tenant(tenant).transaction() as tx:
        _define(tx.cases, SMALL)
        thread, outcome = _in_background(
            lambda: second.tenant(tenant).cases.transition(case.id, "escalated")
        )
        time.sleep(0.5)  # the move waits on the redefinition
        assert not outcome
    thread.join()
    [err] = outcome
    assert isinstance(err, InvalidInput), err
    assert err.field == "status"
    assert "'escalated'" in str(err) and "'ex'" in str(err)
    assert cases.get(case.id).status == "analyzing"


def test_a_redefinition_that_drops_a_status_a_move_took_is_refused(
    sync_ledger: Ledger, second: Ledger
) -> None:
    tenant = new_tenant(sync_ledger)
    cases = sync_ledger.tenant(tenant).cases
    _define(cases, FULL)
    case = cases.create("ex", "c")
    cases.transition(case.id, "analyzing")
    with sync_ledger.tenant(tenant).transaction() as tx:
        tx.cases.transition(case.id, "escalated")
        thread, outcome = _in_background(lambda: _define(second.tenant(tenant).cases, SMALL))
        time.sleep(0.5)
        assert not outcome
    thread.join()
    [err] = outcome
    assert isinstance(err, Conflict), err
    assert err.field == "statuses"
    assert "escalated" in cases.kind("ex").statuses


def _changes(timeline: list[Any]) -> int:
    return sum(1 for e in timeline if e["type"] in ("CaseCreated", "CaseUpdated"))


def test_the_case_detail_agrees_with_its_timeline_under_concurrent_changes(
    base: str, tenants: Any
) -> None:
    keys = tenants[0]["keys"]
    with client(base, keys["admin"]) as admin:
        kind = {"statuses": ["open", "done"], "transitions": {"open": ["done"]}}
        done = admin.put("/v1/case-kinds/race", json={**kind, "terminal": ["done"]})
        assert done.status_code == 200, done.text
        case_id = admin.post("/v1/cases", json={"kind": "race", "title": "t"}).json()["id"]
    stop = threading.Event()

    def write() -> None:
        with client(base, keys["writer"]) as w:
            i = 0
            while not stop.is_set():
                w.patch(f"/v1/cases/{case_id}", json={"body": f"b{i}"})
                i += 1

    thread = threading.Thread(target=write)
    thread.start()
    seen: list[tuple[int, int]] = []
    try:
        with client(base, keys["reader"]) as reader:
            for _ in range(150):
                got = reader.get(f"/v1/cases/{case_id}")
                assert got.status_code == 200, got.text
                detail = got.json()
                seen.append((detail["case"]["version"], _changes(detail["timeline"])))
    finally:
        stop.set()
        thread.join()
    assert seen[-1][0] > 10  # the writer did run alongside
    assert [s for s in seen if s[0] != s[1]] == []


def test_detail_cuts_the_timeline_at_the_case_version(sync_ledger: Ledger) -> None:
    cases = sync_ledger.tenant(new_tenant(sync_ledger)).cases
    _define(cases, FULL)
    case = cases.create("ex", "c")
    cases.comment(case.id, "first")
    cases.update(case.id, body="b")
    cases.transition(case.id, "analyzing")
    found, timeline = cases.detail(case.id)
    assert found.version == 3
    types = [e.type for e in timeline]
    assert types == ["CaseCreated", "CaseCommented", "CaseUpdated", "CaseStatusChanged"]
    assert [e.type for e in cases.detail(case.id, limit=2)[1]] == types[:2]
    with pytest.raises(Exception, match="does not exist"):
        cases.detail("00000000-0000-0000-0000-000000000000")


def test_no_catalog_version_stored_after_a_schema_replacement_breaks_it(
    sync_ledger: Ledger, settings: Settings
) -> None:
    tenant = new_tenant(sync_ledger)
    catalog = sync_ledger.tenant(tenant).catalog
    items = {"type": "array", "items": {"type": "integer"}}
    catalog.register_schema("plan", {"type": "object", "properties": {"items": items}})
    stop = threading.Event()
    stored = threading.Event()
    big = list(range(30_000))  # slow enough to validate that writes straddle the swap

    def writer(k: int) -> None:
        with Ledger(settings, migrate=False) as led:
            mine, j = led.tenant(tenant).catalog, 0
            while not stop.is_set():
                try:
                    mine.create_version("plan", f"p{k}", {"items": big, "j": j})
                    stored.set()
                except InvalidInput:
                    pass
                j += 1

    def latest() -> dict[str, int]:
        return {d.name: d.latest_version for d in catalog.list_documents("plan")}

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        assert stored.wait(30)
        time.sleep(0.5)
        catalog.register_schema("plan", {"type": "object", "required": ["must"]})
        # Versions committed before register_schema returned are all visible now; any
        # other was checked against the new schema, which none of them satisfies.
        swapped = latest()
        time.sleep(0.8)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert latest() == swapped


def test_a_schema_replacement_waits_for_a_version_checked_against_the_old_one(
    sync_ledger: Ledger, second: Ledger
) -> None:
    tenant = new_tenant(sync_ledger)
    sync_ledger.tenant(tenant).catalog.register_schema("plan", {"type": "object"})
    with sync_ledger.tenant(tenant).transaction() as tx:
        tx.catalog.create_version("plan", "p", {"a": 1})
        thread, outcome = _in_background(
            lambda: second.tenant(tenant).catalog.register_schema(
                "plan", {"type": "object", "required": ["must"]}
            )
        )
        time.sleep(0.5)
        assert not outcome  # the replacement waits for the version's transaction
    thread.join()
    assert not isinstance(outcome[0], Exception), outcome
    with pytest.raises(InvalidInput):
        sync_ledger.tenant(tenant).catalog.create_version("plan", "q", {"a": 1})
