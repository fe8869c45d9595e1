"""Floods at the API: bodies over the size limit (declared, and streamed without a length)
are refused with 413, page sizes over each list's cap with 422, nothing is written, and the
server keeps answering ordinary requests while oversized uploads arrive in parallel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx

from chaos import flood_rate
from chaos.common import Result, own_server
from chaos.http import ADMIN, api_server, tenant_with_keys

NAME = "Flood: oversized bodies, pages and request rate"
METHOD = (
    "against `agentledger serve`: POST bodies of twice max_body_bytes with Content-Length "
    "and chunked without one on every POST route (expect 413), limit over each list's cap, "
    "zero and negative (expect 422), while 8 threads upload oversized bodies and one writer "
    "appends normally (all its writes must succeed); then the tenant must hold only the "
    "normal writes. Then, with a rate limit of 40 requests/s a key, tenant A appends at "
    "10x that, evenly spaced (in its own process), while tenant B reads at 20/s: A's "
    "excess is 429 and not stored, B gets no error, and (full run) B's p99 stays within "
    "2x its p99 alone "
    "(six windows alone alternate with six flooded, so drift weighs on both sides)"
)
LIMIT = 100_000  # max_body_bytes for this run: small, so the flood is cheap


def run(quick: bool) -> Result:
    parallel_rounds = 3 if quick else 50
    result = Result(NAME, METHOD)
    wrong: list[str] = []
    with own_server(durable=False) as own:
        settings = own.settings(max_body_bytes=LIMIT)
        with api_server(settings, {"AGENTLEDGER_MAX_BODY_BYTES": str(LIMIT)}) as base:
            keys = tenant_with_keys(base)
            headers = {"Authorization": f"Bearer {keys['admin']}"}
            doc = httpx.get(f"{base}/openapi.json").json()
            big = b'{"stream": "s", "type": "t", "payload": {"x": "' + b"a" * (2 * LIMIT) + b'"}}'
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                posts = [p for p, ops in doc["paths"].items() if "post" in ops and "{" not in p]
                for path in posts:
                    for streamed in (False, True):
                        content: Any = _chunks(big) if streamed else big
                        answer = http.post(
                            path, content=content, headers={"Content-Type": "application/json"}
                        )
                        result.operations += 1
                        result.faults += 1
                        if answer.status_code != 413:
                            wrong.append(
                                f"POST {path} ({'chunked' if streamed else 'sized'}) "
                                f"-> {answer.status_code}"
                            )
                for path, ops in doc["paths"].items():
                    get = ops.get("get")
                    if get is None or "{" in path or path.endswith("/stream"):
                        continue
                    for param in get.get("parameters", []):
                        if param["name"] != "limit":
                            continue
                        cap = param.get("schema", {}).get("maximum")
                        for value in ([cap + 1] if cap else []) + [10**9, 0, -1]:
                            # The tenants list is the platform's: asked with its key.
                            platform = {"Authorization": f"Bearer {ADMIN}"}
                            answer = http.get(
                                path,
                                params={"limit": value},
                                headers=platform if path.startswith("/v1/tenants") else None,
                            )
                            result.operations += 1
                            result.faults += 1
                            if answer.status_code != 422:
                                wrong.append(f"GET {path}?limit={value} -> {answer.status_code}")
                normal, failed, errors = _parallel(base, headers, big, parallel_rounds)
                result.operations += normal + 8 * parallel_rounds
                result.faults += 8 * parallel_rounds
                result.acknowledged = normal - failed
                wrong.extend(errors)
                with own.owner() as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM agentledger.events WHERE tenant_id = %s",
                        (keys["id"],),
                    ).fetchone()
                stored = row[0] if row else 0
                result.lost = max(0, result.acknowledged - stored)
                result.duplicated = max(0, stored - result.acknowledged)
                if http.get("/readyz").status_code != 200:
                    wrong.append("not ready after the flood")
        rate = flood_rate.run(own, quick)
    result.operations += rate.flood_sent
    result.faults += rate.flood_sent
    result.acknowledged += len(rate.flood_acked)
    result.lost += max(0, len(rate.flood_acked) - rate.stored)
    result.duplicated += max(0, rate.stored - len(rate.flood_acked))
    wrong.extend(rate.unexpected)
    result.details = {
        "unexpected": wrong[:10],
        "max_body_bytes": LIMIT,
        "rate_limit_per_key_s": flood_rate.LIMIT,
        "flood_requests_s": round(rate.flood_sent / rate.flood_seconds),
        "flood_refused_429": rate.flood_refused,
        "quiet_p99_alone_ms": round(rate.quiet_alone_p99_ms, 1),
        "quiet_p99_flooded_ms": round(rate.quiet_flooded_p99_ms, 1),
    }
    return result.decide(f"{len(wrong)} unexpected answers" if wrong else "")


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 16_384):
        yield body[start : start + 16_384]


def _parallel(
    base: str, headers: dict[str, str], big: bytes, rounds: int
) -> tuple[int, int, list[str]]:
    """8 threads upload oversized bodies while one appends ordinary events: how many
    ordinary appends were sent and how many failed, and every unexpected answer."""
    errors: list[str] = []

    def flood() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for _ in range(rounds):
                code = http.post(
                    "/v1/events", content=_chunks(big), headers={"Content-Type": "application/json"}
                ).status_code
                if code != 413:
                    errors.append(f"flood POST /v1/events -> {code}")

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    normal = failed = 0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while any(t.is_alive() for t in threads) or normal < rounds:
            code = http.post(
                "/v1/events", json={"stream": "normal", "type": "Wrote", "payload": {"n": normal}}
            ).status_code
            normal += 1
            if code != 201:
                failed += 1
                errors.append(f"normal POST /v1/events -> {code}")
    for thread in threads:
        thread.join()
    return normal, failed, errors
