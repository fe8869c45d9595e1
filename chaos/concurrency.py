"""Optimistic concurrency: many appends to one stream at once, all expecting the same
version, through the library and over HTTP. Exactly one may win each round; the rest get
a version conflict (409 over HTTP) and write nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import httpx

from agentledger import Ledger, VersionConflict
from chaos.common import Result, own_server
from chaos.http import api_server, tenant_with_keys

NAME = "Optimistic concurrency"
METHOD = (
    "N threads released together by a barrier append to one stream with the same "
    "expected_version, via Ledger (own connections) and via POST /v1/events on a uvicorn "
    "process; expect 1 success and N-1 VersionConflict / 409, and a stream of one event"
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


def run(quick: bool) -> Result:
    n, rounds = 50, (2 if quick else 10)
    result = Result(NAME, METHOD)
    failures: list[str] = []
    with own_server(durable=False) as own:
        tenant = f"occ-{uuid.uuid4().hex[:6]}"
        with Ledger(own.settings(pool_max_size=n, pool_timeout=30), migrate=False) as ledger:
            ledger.tenants.create(tenant)
            scope = ledger.tenant(tenant)
            for r in range(rounds):
                stream = f"lib-{r}"

                def lib(i: int, stream: str = stream) -> str:
                    try:
                        scope.events.append(stream, "Raced", {"i": i}, expected_version=0)
                    except VersionConflict:
                        return "conflict"
                    return "ok"

                counts = _race(n, lib)
                result.operations += n
                result.acknowledged += counts.get("ok", 0)
                stored = scope.events.stream_version(stream)
                if counts != {"ok": 1, "conflict": n - 1} or stored != 1:
                    failures.append(f"library round {r}: {counts}, version {stored}")
                    result.duplicated += max(0, stored - 1)
        with api_server(own.settings()) as base:
            keys = tenant_with_keys(base)
            headers = {"Authorization": f"Bearer {keys['writer']}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                for r in range(rounds):
                    stream = f"http-{r}"

                    def web(i: int, stream: str = stream) -> str:
                        answer = http.post(
                            "/v1/events",
                            json={
                                "stream": stream,
                                "type": "Raced",
                                "payload": {"i": i},
                                "expected_version": 0,
                            },
                        )
                        return {201: "ok", 200: "ok", 409: "conflict"}.get(
                            answer.status_code, f"status {answer.status_code}"
                        )

                    counts = _race(n, web)
                    result.operations += n
                    result.acknowledged += counts.get("ok", 0)
                    page = http.get(f"/v1/streams/{stream}/events").json()
                    stored = len(page["items"] if isinstance(page, dict) else page)
                    if counts != {"ok": 1, "conflict": n - 1} or stored != 1:
                        failures.append(f"http round {r}: {counts}, {stored} stored")
                        result.duplicated += max(0, stored - 1)
    result.faults = 2 * rounds  # races, each of n writers at once
    result.details = {"rounds": rounds, "writers": n, "failures": failures[:5]}
    return result.decide("; ".join(failures[:3]))
