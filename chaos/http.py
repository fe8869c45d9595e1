"""The API as a real process: ``agentledger serve`` (uvicorn) started, killed, restarted."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from agentledger import Settings

ROOT = Path(__file__).resolve().parents[1]
ADMIN = f"chaos-admin-{uuid.uuid4().hex}"


class ApiProcess:
    """``agentledger serve`` on a free port, in a process of its own that may be SIGKILLed."""

    def __init__(self, settings: Settings, port: int, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.extra = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": str(self.settings.database_url),
            "AGENTLEDGER_DATA_DIR": str(self.settings.data_dir),
            "AGENTLEDGER_ADMIN_KEY": ADMIN,
            # Bursts of concurrent requests wait for a pooled connection rather than fail.
            "AGENTLEDGER_POOL_TIMEOUT": "30",
            **self.extra,
        }

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentledger.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self.base, timeout=1) as http:  # one client: cheap polls
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError("the API process exited")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get("/healthz").status_code < 500:
                        return
                time.sleep(0.05)
        raise RuntimeError("the API process did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ForkedApi(ApiProcess):
    """The same server, each process forked from ``chaos.api_zygote`` (imports done once):
    a restart costs the app's start, not the interpreter's, so a scenario can kill the API
    a thousand times."""

    def __init__(self, settings: Settings, port: int, env: dict[str, str] | None = None) -> None:
        super().__init__(settings, port, env)
        self.zygote = subprocess.Popen(
            [sys.executable, "-m", "chaos.api_zygote"],
            cwd=ROOT,
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.pid: int | None = None

    def start(self) -> None:
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self.zygote.stdin.write(f"{self.port}\n")
        self.zygote.stdin.flush()
        self.pid = int(self.zygote.stdout.readline())
        self.wait_ready()

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill9(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        while self.alive():  # reaped by the zygote: gone once the kernel has freed it
            time.sleep(0.005)

    def stop(self) -> None:
        if self.alive():
            assert self.pid is not None
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive():
                self.kill9()
        if self.zygote.stdin is not None:
            self.zygote.stdin.close()
        self.zygote.wait(20)


@contextlib.contextmanager
def api_server(settings: Settings, env: dict[str, str] | None = None) -> Iterator[str]:
    from chaos.common import free_port

    api = ApiProcess(settings, free_port(), env)
    api.start()
    try:
        yield api.base
    finally:
        api.stop()


def tenant_with_keys(base: str) -> dict[str, str]:
    """A new tenant and a key of each role: {"id", "admin", "writer", "reader"}."""
    tid = f"t-{uuid.uuid4().hex[:10]}"
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    ) as platform:
        made = platform.post("/v1/tenants", json={"id": tid, "name": tid})
        assert made.status_code == 201, made.text
        out = {"id": tid}
        for role in ("admin", "writer", "reader"):
            key = platform.post(f"/v1/tenants/{tid}/keys", json={"role": role})
            assert key.status_code == 201, key.text
            out[role] = key.json()["secret"]
    return out
