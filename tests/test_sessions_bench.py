"""The sessions benchmark runs end to end on tiny sizes, so it cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_sessions_bench_quick(server_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": server_url, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.sessions", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sessions: chunk appends" in done.stdout
    assert "add_chunk 1 KB" in done.stdout and "add_chunk 1 MB" in done.stdout
    assert "search over 10,000 chunks, all (40 queries): p50" in done.stdout
    assert "p99 growth 10,000 / 1,000 chunks" in done.stdout
    assert "imported a run: 5 sessions, 100 chunks, 50 memories, 50 tasks" in done.stdout
    assert "sessions: the JSON importer, rows/s" in done.stdout
