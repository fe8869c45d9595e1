"""The event log benchmark runs end to end (tiny sizes), so it cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_events_benchmark_runs_quick(server_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": server_url}
    result = subprocess.run(
        [sys.executable, "-m", "bench.events", "--quick", "--singles", "5", "--batch", "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Follower behind 8 concurrent writers" in result.stdout
