"""HTTP load on loopback: requests per second for a search and a list endpoint.

Serves the app (uvicorn, one worker) over the demo data set and drives it with concurrent
keep-alive clients for a fixed time; prints req/s and latency percentiles. A rough figure
for one process on this machine, not a ceiling.

    python -m bench.api [--seconds 10] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
from rich.table import Table

from agentledger import Ledger, demo
from bench.common import add_fast_flag, bench_database, console, machine


async def _drive(
    base: str, key: str, method: str, path: str, body: object | None, seconds: float, clients: int
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code >= 400

        await asyncio.gather(*(one() for _ in range(clients)))
    return len(latencies), latencies, errors


@contextlib.contextmanager
def _server(database_url: str, data_dir: str) -> Iterator[str]:
    """``agentledger serve`` in its own process, so client and server don't share a GIL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": data_dir}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentledger.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    console.print(machine())
    with bench_database("api", fast=args.fast) as db:
        with Ledger(db.settings, migrate=False) as ledger:
            tid = f"bench-{uuid.uuid4().hex[:6]}"
            ledger.tenants.create(tid)
            with console.status("loading the demo data set"):
                demo.load(ledger, tid)
            key = ledger.tenant(tid).keys.create(role="admin").secret
        scenarios = [
            ("hybrid search", "POST", "/v1/memory/search", {"query": "Jon Smth", "limit": 10}),
            (
                "fuzzy search",
                "POST",
                "/v1/memory/search",
                {"query": "Acme renwal", "mode": "fuzzy", "limit": 10},
            ),
            ("list decisions (50)", "GET", "/v1/decisions?limit=50", None),
            ("list runs (50)", "GET", "/v1/runs?limit=50", None),
            ("health", "GET", "/healthz", None),
        ]
        table = Table(title=f"HTTP on loopback, {args.clients} clients, {args.seconds:.0f}s each")
        for col in ("endpoint", "requests/s", "p50 ms", "p99 ms", "errors"):
            table.add_column(col, justify="left" if col == "endpoint" else "right")
        with _server(db.owner_url, str(db.settings.data_dir)) as base:
            for label, method, path, body in scenarios:
                n, lat, errors = asyncio.run(
                    _drive(base, key, method, path, body, args.seconds, args.clients)
                )
                lat.sort()
                table.add_row(
                    label,
                    f"{n / args.seconds:,.0f}",
                    f"{statistics.median(lat) * 1000:.1f}",
                    f"{lat[int(len(lat) * 0.99) - 1] * 1000:.1f}",
                    str(errors),
                )
        console.print(table)


if __name__ == "__main__":
    main()
