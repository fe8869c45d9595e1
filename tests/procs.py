"""Processes the tests start from this checkout: workers they kill, speaking on stdout, and
benchmark runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agentledger import Settings

ROOT = Path(__file__).resolve().parents[1]


def spawn_worker(module: str, settings: Settings, *args: str) -> subprocess.Popen[str]:
    """``python -m module DATABASE_URL DATA_DIR *args``, its stdout a text pipe."""
    assert settings.database_url is not None
    return subprocess.Popen(
        [sys.executable, "-m", module, settings.database_url, str(settings.data_dir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def spawn_cli(settings: Settings, *args: str, **env: str) -> subprocess.Popen[str]:
    """``agentledger *args`` on the test's database (extra ``env`` variables added), its
    stdout a text pipe."""
    full = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "AGENTLEDGER_DATA_DIR": str(settings.data_dir),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "agentledger.cli", *args],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        text=True,
    )


def run_bench(module: str, server_url: str, *args: str, timeout: float = 600) -> str:
    """``python -m module *args`` against ``server_url``; its stdout, once it exited 0."""
    env = {**os.environ, "DATABASE_URL": server_url, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def stop_when(
    proc: subprocess.Popen[str],
    ready: Callable[[], bool],
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 60,
) -> str:
    """Wait until ``ready()`` (the process must keep running meanwhile), send it ``sig`` and
    return its stdout once it has ended; it is killed if anything goes wrong on the way."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, "the process ended before it was ready"
            assert time.monotonic() < deadline, "the process was not ready in time"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=timeout)
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
