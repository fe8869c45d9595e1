"""The memory benchmark runs end to end on tiny sizes, so it cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_memory_bench_quick(server_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": server_url, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "p50 / p99" in done.stdout


@pytest.mark.slow
def test_memory_graph_bench_quick(server_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": server_url, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_graph", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded 500 nodes and 2,000 edges" in done.stdout
    assert "p99 growth" in done.stdout
