"""The API cut off from PostgreSQL: ``agentledger serve`` reaches its database through a
TCP proxy that is taken away (open connections closed, new ones refused) while clients
keep writing with their own ids. Every request must fail within the configured timeouts
(no hang), the API must serve again soon after the network heals, and the retried writes
must be stored exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from chaos.common import Result, free_port, own_server
from chaos.http import ApiProcess, tenant_with_keys
from chaos.tcp_proxy import TcpProxy

NAME = "API cut off from PostgreSQL"
METHOD = (
    "`agentledger serve` reaches PostgreSQL through a TCP proxy; 4 clients POST events "
    "with their own event_id, retrying the same body until a 2xx; the proxy closes every "
    "connection and refuses new ones for the outage, then returns. Expect every request to "
    "end within retry_attempts x pool_timeout plus the backoff plus 1 s, /readyz and a "
    "write to succeed within 10 s of healing, each acknowledged event stored once and "
    "every stream contiguous"
)
POOL_TIMEOUT, ATTEMPTS, BACKOFF = 2.0, 3, 0.2
# The longest a request may take while the database is unreachable: each attempt waits
# pool_timeout for a connection, and the backoff before a retry is at most 1.5x its step.
BOUND = ATTEMPTS * POOL_TIMEOUT + sum(1.5 * BACKOFF * 2**i for i in range(ATTEMPTS - 1))
HEALED_WITHIN = 10.0


@dataclass
class Writer:
    stream: str
    acked: list[str] = field(default_factory=list)
    slowest_in_outage: float = 0.0
    requests: int = 0
    failures: int = 0
    unexpected: list[str] = field(default_factory=list)


def run(quick: bool) -> Result:
    outage = 5.0 if quick else 30.0
    result = Result(NAME, METHOD)
    started = time.monotonic()
    with own_server(durable=False) as own, TcpProxy("127.0.0.1", _port(own.url)) as proxy:
        through = proxy.through(own.url)
        env = {
            "AGENTLEDGER_POOL_TIMEOUT": str(POOL_TIMEOUT),
            "AGENTLEDGER_RETRY_ATTEMPTS": str(ATTEMPTS),
            "AGENTLEDGER_RETRY_BACKOFF": str(BACKOFF),
            "AGENTLEDGER_CONNECT_TIMEOUT": "2",
        }
        api = ApiProcess(own.settings(database_url=through), free_port(), env)
        api.start()
        try:
            keys = tenant_with_keys(api.base)
            cut = threading.Event()
            stop = threading.Event()
            writers = [Writer(f"w-{i}") for i in range(4)]
            threads = [
                threading.Thread(target=_write, args=(api.base, keys["writer"], w, cut, stop))
                for w in writers
            ]
            for thread in threads:
                thread.start()
            time.sleep(1)
            cut.set()
            proxy.stop()
            ready_in_outage = _ready(api.base)
            time.sleep(outage)
            proxy.start()
            healed_at = time.monotonic()
            cut.clear()
            healed_in = _healed(api.base, keys["writer"], healed_at)
            time.sleep(1)
            stop.set()
            for thread in threads:
                thread.join()
            with own.owner() as conn:
                rows = conn.execute(
                    "SELECT stream, event_id::text, version FROM agentledger.events "
                    "WHERE tenant_id = %s ORDER BY stream, version",
                    (keys["id"],),
                ).fetchall()
        finally:
            api.stop()
    stored: dict[str, int] = {}
    versions: dict[str, list[int]] = {}
    for stream, event_id, version in rows:
        stored[event_id] = stored.get(event_id, 0) + 1
        versions.setdefault(stream, []).append(version)
    acked = [e for w in writers for e in w.acked]
    result.operations = sum(w.requests for w in writers)
    result.faults = 1
    result.acknowledged = len(acked)
    result.lost = sum(1 for e in acked if e not in stored)
    result.duplicated = sum(n - 1 for n in stored.values())
    slowest = max(w.slowest_in_outage for w in writers)
    problems = [p for w in writers for p in w.unexpected]
    if slowest > BOUND + 1:
        problems.append(f"a request took {slowest:.1f} s in the outage (bound {BOUND + 1:.1f})")
    if ready_in_outage is None or ready_in_outage[0] != 503 or ready_in_outage[1] > BOUND + 1:
        problems.append(f"/readyz in the outage answered {ready_in_outage}")
    if healed_in is None or healed_in > HEALED_WITHIN:
        problems.append(f"not serving {HEALED_WITHIN:.0f} s after healing ({healed_in})")
    for stream, seen in versions.items():
        if seen != list(range(1, len(seen) + 1)):
            problems.append(f"stream {stream} has versions {seen[:5]}...")
    if not any(w.failures for w in writers):
        problems.append("no request failed: the outage was not felt")
    result.seconds = round(time.monotonic() - started, 1)
    result.details = {
        "outage_s": outage,
        "bound_s": round(BOUND + 1, 1),
        "slowest_request_in_outage_s": round(slowest, 2),
        "failed_requests": sum(w.failures for w in writers),
        "readyz_in_outage": ready_in_outage,
        "serving_after_heal_s": healed_in,
        "problems": problems[:5],
    }
    return result.decide("; ".join(problems[:3]))


def _write(base: str, key: str, w: Writer, cut: threading.Event, stop: threading.Event) -> None:
    """Append events to one stream, each retried with its own id until acknowledged."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        while not stop.is_set():
            event_id = str(uuid.uuid4())
            body = {"stream": w.stream, "type": "Wrote", "payload": {}, "event_id": event_id}
            while True:
                during = cut.is_set()
                began = time.monotonic()
                answer = http.post("/v1/events", json=body)
                took = time.monotonic() - began
                w.requests += 1
                if during:
                    w.slowest_in_outage = max(w.slowest_in_outage, took)
                if answer.is_success:
                    w.acked.append(event_id)
                    break
                w.failures += 1
                if answer.status_code != 503:
                    w.unexpected.append(f"POST /v1/events -> {answer.status_code}")
                time.sleep(0.1)


def _ready(base: str) -> tuple[int, float] | None:
    began = time.monotonic()
    try:
        code = httpx.get(f"{base}/readyz", timeout=60).status_code
    except httpx.HTTPError:
        return None
    return code, round(time.monotonic() - began, 2)


def _healed(base: str, key: str, since: float) -> float | None:
    """Seconds from the network's return to a ready API that acknowledges a write."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while time.monotonic() - since < 60:
            ready = http.get("/readyz").status_code == 200
            body = {"stream": "heal", "type": "Healed", "payload": {}}
            if ready and http.post("/v1/events", json=body).is_success:
                return round(time.monotonic() - since, 2)
            time.sleep(0.2)
    return None


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port
