"""A tenant flooding the API at ten times its rate limit while another tenant works at its
ordinary pace: the flood is answered 429 and writes nothing it was refused, the other
tenant's latency stays within twice its latency alone (judged in the full run)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import httpx

from chaos.common import OwnServer
from chaos.http import api_server, tenant_with_keys

LIMIT = 40  # requests a second for each key
PACE = 20  # the quiet tenant's requests a second: half its limit
FLOOD_CONNECTIONS = 8


@dataclass
class RateFlood:
    quiet_alone_p99_ms: float = 0.0
    quiet_flooded_p99_ms: float = 0.0
    quiet_errors: int = 0
    flood_sent: int = 0
    flood_refused: int = 0
    flood_seconds: float = 0.0
    flood_acked: list[str] = field(default_factory=list)
    stored: int = 0
    unexpected: list[str] = field(default_factory=list)

    @property
    def operations(self) -> int:
        return self.flood_sent


def run(own: OwnServer, quick: bool) -> RateFlood:
    # The quick run judges no latency (see below): one short round shows the refusals.
    samples = 40 if quick else 600
    rounds = 1 if quick else 6
    out = RateFlood()
    env = {"AGENTLEDGER_RATE_LIMIT": f"{LIMIT}/second"}
    alone: list[float] = []
    flooded: list[float] = []
    with api_server(own.settings(), env) as base:
        flooder, quiet = tenant_with_keys(base), tenant_with_keys(base)
        _quiet(base, quiet["reader"], 20, out)  # warm: connections, key cache, plans
        out.quiet_errors = 0
        each = samples // rounds
        seconds = each / PACE + 1
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(time.sleep, 0).result()  # the flood's process started
            # Quiet windows alternate with flooded ones, so the machine's own drift (other
            # work, caches) weighs on both sides of the ratio alike.
            for _ in range(rounds):
                alone += _quiet(base, quiet["reader"], each, out)
                # Its own process: the flood's client work does not slow the quiet client.
                flood = pool.submit(_flood, base, flooder["writer"], seconds)
                time.sleep(1)  # the flood under way
                flooded += _quiet(base, quiet["reader"], each, out)
                sent, refused, acked, unexpected = flood.result()
                out.flood_sent += sent
                out.flood_refused += refused
                out.flood_acked += acked
                out.flood_seconds += seconds
                out.unexpected.extend(unexpected)
        with own.owner() as conn:
            row = conn.execute(
                "SELECT count(*) FROM agentledger.events WHERE tenant_id = %s",
                (flooder["id"],),
            ).fetchone()
        out.stored = row[0] if row else 0
    out.quiet_alone_p99_ms = _p99(alone)
    out.quiet_flooded_p99_ms = _p99(flooded)
    rate = out.flood_sent / out.flood_seconds
    if not out.flood_refused or (not quick and rate < 9 * LIMIT):
        out.unexpected.append(f"the flood reached only {rate:.0f} requests/s")
    # The moving window lets a key through at most its limit a second (plus one window's
    # worth at the start of each round).
    allowed = LIMIT * (out.flood_seconds + 2 * rounds)
    if len(out.flood_acked) > allowed:
        out.unexpected.append(f"{len(out.flood_acked)} flood writes acknowledged")
    if out.quiet_errors:
        out.unexpected.append(f"{out.quiet_errors} of the quiet tenant's requests failed")
    # A latency ratio is judged in the full run only: the quick run shares the machine with
    # the test suite, whose load would decide it.
    if not quick and out.quiet_flooded_p99_ms > 2 * out.quiet_alone_p99_ms:
        out.unexpected.append(
            f"the quiet tenant's p99 went from {out.quiet_alone_p99_ms:.1f} ms to "
            f"{out.quiet_flooded_p99_ms:.1f} ms"
        )
    return out


def _quiet(base: str, key: str, n: int, out: RateFlood) -> list[float]:
    """``n`` reads at the quiet tenant's pace; their latencies in ms."""
    took: list[float] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
        next_at = time.monotonic()
        for _ in range(n):
            began = time.monotonic()
            code = http.get("/v1/events", params={"limit": 20}).status_code
            took.append((time.monotonic() - began) * 1000)
            if code != 200:
                out.quiet_errors += 1
                out.unexpected.append(f"quiet GET /v1/events -> {code}")
            next_at += 1 / PACE
            time.sleep(max(0.0, next_at - time.monotonic()))
    return took


def _flood(base: str, key: str, seconds: float) -> tuple[int, int, list[str], list[str]]:
    """Appends at ten times the key's limit for ``seconds``, each with its own id: how many
    were sent and refused, the ids acknowledged, the surprises. Raw HTTP/1.1 on kept-alive
    connections, so the flood's own client costs the shared machine little."""
    return asyncio.run(_flood_async(base, key, seconds))


async def _flood_async(
    base: str, key: str, seconds: float
) -> tuple[int, int, list[str], list[str]]:
    host, port = base.removeprefix("http://").split(":")
    sent = refused = 0
    acked: list[str] = []
    unexpected: list[str] = []
    interval = FLOOD_CONNECTIONS / (10 * LIMIT)
    ends = time.monotonic() + seconds

    async def one_connection(index: int) -> None:
        nonlocal sent, refused
        reader, writer = await asyncio.open_connection(host, int(port))
        # The connections take turns: 400 requests a second evenly spaced, not in bursts.
        next_at = time.monotonic() + index * interval / FLOOD_CONNECTIONS
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        while time.monotonic() < ends:
            event_id = str(uuid.uuid4())
            body = json.dumps(
                {"stream": "flood", "type": "Flooded", "payload": {}, "event_id": event_id}
            ).encode()
            writer.write(
                b"POST /v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (host.encode(), key.encode(), len(body), body)
            )
            code = await _response_status(reader)
            sent += 1
            if code == 201:
                acked.append(event_id)
            elif code == 429:
                refused += 1
            else:
                unexpected.append(f"flood POST /v1/events -> {code}")
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        writer.close()

    await asyncio.gather(*(one_connection(i) for i in range(FLOOD_CONNECTIONS)))
    return sent, refused, acked, unexpected[:10]


async def _response_status(reader: asyncio.StreamReader) -> int:
    """Read one response (status line, headers, a Content-Length body); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
