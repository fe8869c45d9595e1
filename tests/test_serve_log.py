"""``agentledger serve`` logs each request once, with its status, time and request id, on
uvicorn's handler; ``--no-access-log`` keeps only warnings and errors. A stop signal ends
its open event streams, so it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from chaos.common import free_port

from agentledger import Ledger, Settings
from tests.procs import ROOT


class Served:
    """A running ``agentledger serve``, a client of it, and (once stopped) its stderr."""

    def __init__(self, proc: subprocess.Popen[str], http: httpx.Client) -> None:
        self.proc = proc
        self.http = http
        self.err = ""


@contextmanager
def _serving(settings: Settings, *flags: str) -> Iterator[Served]:
    """``agentledger serve`` with ``flags`` on the test database, once it answers; stopped
    (SIGTERM) on the way out unless it already was."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "AGENTLEDGER_DATA_DIR": str(settings.data_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentledger.cli", "serve", "--port", str(port), *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(proc, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                served.http.get("/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield served
    finally:
        served.http.close()
        if proc.poll() is None:
            proc.terminate()
        _, served.err = proc.communicate(timeout=60)


def _serve_and_ask(settings: Settings, flag: str, request_id: str) -> str:
    """Start ``serve`` with ``flag``, send one unauthenticated request carrying
    ``request_id``, stop it; what it wrote to stderr."""
    with _serving(settings, flag) as served:
        answer = served.http.get("/v1/events", headers={"X-Request-ID": request_id})
        assert answer.status_code == 401
    return served.err


@pytest.mark.parametrize("flag", ["--access-log", "--no-access-log"])
def test_each_request_is_logged_once_with_its_id(settings: Settings, flag: str) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    err = _serve_and_ask(settings, flag, request_id)
    lines = [line for line in err.splitlines() if request_id in line]
    if flag == "--no-access-log":
        assert lines == [], err[-2000:]
    else:
        assert len(lines) == 1, err[-2000:]
        assert "GET /v1/events 401" in lines[0]
        assert "ms request_id=" in lines[0]


def test_a_stop_signal_ends_open_streams_and_then_the_server(
    settings: Settings, sync_ledger: Ledger
) -> None:
    """SIGTERM with event and alert streams open: each stream's response ends cleanly (its
    client can reconnect elsewhere with Last-Event-ID), the server stops well before its
    shutdown timeout (which would cancel them), and the ledger is closed."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    key = sync_ledger.tenant(tenant).keys.create(role="reader").secret
    auth = {"Authorization": f"Bearer {key}"}
    with (
        _serving(settings, "--shutdown-timeout", "300") as served,
        served.http.stream("GET", "/v1/events/stream", headers=auth) as events,
        served.http.stream("GET", "/v1/alerts/stream", headers=auth) as alerts,
    ):
        for response in (events, alerts):  # passed through proxies and caches as it comes
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
        streams = [events.iter_lines(), alerts.iter_lines()]
        assert [next(lines) for lines in streams] == [
            ": following the event log",
            ": following new alerts",
        ]
        served.proc.send_signal(signal.SIGTERM)
        # uvicorn ends by raising the signal it stopped for again, once it has shut down.
        assert served.proc.wait(timeout=120) == -signal.SIGTERM
        for lines in streams:  # the rest of each response, ended by the server, not cut
            assert all(line.startswith(":") or line == "" for line in lines)
    assert "Application shutdown complete" in served.err
