"""Processes the tests start from this checkout: workers they kill, speaking on stdout, and
benchmark runs."""

from __future__ import annotations

import os
import subprocess
import sys
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
