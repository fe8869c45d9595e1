"""Optimistic concurrency: many writers at once to one stream, one case's status and one
catalog document, all expecting the same version, through the library and over HTTP.
Exactly one may win each round; the rest get a version conflict (409 over HTTP) and write
nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

import httpx

from agentledger import Ledger, VersionConflict
from agentledger.ledger import TenantScope
from chaos.common import Result, own_server
from chaos.http import api_server, tenant_with_keys

NAME = "Optimistic concurrency"
METHOD = (
    "N threads released together by a barrier, all with the same expected_version: append "
    "to one stream, move one case to the next status, add one catalog document's next "
    "version; via Ledger (own connections) and via the API on a uvicorn process; expect "
    "1 success and N-1 VersionConflict / 409 each time, and one change stored"
)


def _race(n: int, attempt: Callable[[int], str]) -> dict[str, int]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        barrier.wait()
        try:
            outcome = attempt(i)
        except Exception as exc:  # counted: anything but a win or a conflict fails the row
            outcome = f"error {type(exc).__name__}: {exc}"[:200]
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


KIND = {
    "statuses": ["open", "working", "done"],
    "transitions": {"open": ["working"], "working": ["done"]},
    "terminal": ["done"],
}


def run(quick: bool) -> Result:
    n, rounds = 50, (2 if quick else 10)
    result = Result(NAME, METHOD)
    failures: list[str] = []

    def judge(label: str, counts: dict[str, int], stored: int) -> None:
        """One round: exactly one win, n - 1 conflicts, and one change stored."""
        result.operations += n
        result.acknowledged += counts.get("ok", 0)
        if counts != {"ok": 1, "conflict": n - 1} or stored != 1:
            failures.append(f"{label}: {counts}, {stored} stored")
            result.duplicated += max(0, stored - 1)

    with own_server(durable=False) as own:
        tenant = f"occ-{uuid.uuid4().hex[:6]}"
        with Ledger(own.settings(pool_max_size=n, pool_timeout=30), migrate=False) as ledger:
            ledger.tenants.create(tenant)
            scope = ledger.tenant(tenant)
            scope.cases.define_kind("race", **KIND)  # type: ignore[arg-type]
            for r in range(rounds):
                stream, doc = f"lib-{r}", f"doc-{r}"
                counts = _race(n, partial(_lib_append, scope, stream))
                judge(f"library append {r}", counts, scope.events.stream_version(stream))
                case = scope.cases.create("race", f"case {r}").id
                counts = _race(n, partial(_lib_move, scope, case))
                judge(f"library case move {r}", counts, scope.cases.get(case).version - 1)
                scope.catalog.create_version("race", doc, {"i": -1})
                counts = _race(n, partial(_lib_version, scope, doc))
                latest = scope.catalog.get_latest("race", doc).version
                judge(f"library catalog version {r}", counts, latest - 1)
        with api_server(own.settings()) as base:
            keys = tenant_with_keys(base)
            headers = {"Authorization": f"Bearer {keys['writer']}"}
            admin = {"Authorization": f"Bearer {keys['admin']}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                http.put("/v1/case-kinds/race", json=KIND, headers=admin).raise_for_status()
                for r in range(rounds):
                    stream = f"http-{r}"
                    body = {"stream": stream, "type": "Raced", "payload": {}, "expected_version": 0}
                    counts = _race(n, partial(_web, http, "/v1/events", body))
                    stored = len(http.get(f"/v1/streams/{stream}/events").json())
                    judge(f"http append {r}", counts, stored)
                    case = http.post("/v1/cases", json={"kind": "race", "title": f"c{r}"}).json()
                    move = {"status": "working", "expected_version": 1}
                    counts = _race(
                        n, partial(_web, http, f"/v1/cases/{case['id']}/transition", move)
                    )
                    version = http.get(f"/v1/cases/{case['id']}").json()["case"]["version"]
                    judge(f"http case move {r}", counts, version - 1)
                    doc = f"/v1/catalog/documents/race/doc-{r}/versions"
                    http.post(doc, json={"content": {"i": -1}}).raise_for_status()
                    again = {"content": {"i": 1}, "expected_version": 1}
                    counts = _race(n, partial(_web, http, doc, again, vary="content"))
                    judge(
                        f"http catalog version {r}", counts, len(http.get(doc).json()["items"]) - 1
                    )
    result.faults = 6 * rounds  # races, each of n writers at once
    result.details = {"rounds": rounds, "writers": n, "failures": failures[:5]}
    return result.decide("; ".join(failures[:3]))


def _lib_append(scope: TenantScope, stream: str, i: int) -> str:
    return _lib(lambda: scope.events.append(stream, "Raced", {"i": i}, expected_version=0))


def _lib_move(scope: TenantScope, case: UUID, i: int) -> str:
    return _lib(lambda: scope.cases.transition(case, "working", by=f"w{i}", expected_version=1))


def _lib_version(scope: TenantScope, doc: str, i: int) -> str:
    return _lib(lambda: scope.catalog.create_version("race", doc, {"i": i}, expected_version=1))


def _lib(write: Callable[[], object]) -> str:
    try:
        write()
    except VersionConflict:
        return "conflict"
    return "ok"


def _web(
    http: httpx.Client, path: str, body: dict[str, Any], i: int, *, vary: str | None = None
) -> str:
    """POST ``body`` (with writer ``i``'s own value in ``vary``): ok, conflict or a status."""
    sent = {**body, vary: {"i": i}} if vary else body
    answer = http.post(path, json=sent)
    return {201: "ok", 200: "ok", 409: "conflict"}.get(
        answer.status_code, f"status {answer.status_code}"
    )
