"""``agentledger serve`` logs each request once, with its status, time and request id, on
uvicorn's handler; ``--no-access-log`` keeps only warnings and errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from chaos.common import free_port

from agentledger import Settings
from tests.procs import ROOT


def _serve_and_ask(settings: Settings, flag: str, request_id: str) -> str:
    """Start ``serve`` with ``flag``, send one unauthenticated request carrying
    ``request_id``, stop it; what it wrote to stderr."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "AGENTLEDGER_DATA_DIR": str(settings.data_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentledger.cli", "serve", "--port", str(port), flag],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            answer = http.get("/v1/events", headers={"X-Request-ID": request_id})
            assert answer.status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return err


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
