"""The read-replica benchmark runs end to end (a primary, its standby, tiny sizes), so it
cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_replicas_benchmark_runs_quick(server_url: str) -> None:
    out = run_bench("bench.replicas", server_url, "--quick", "--reads", "20")
    assert "read replicas: reads, idle primary" in out
    assert "get on the standby while 4 writers append to the primary: p50" in out
    assert "get on the primary while 4 writers append to the primary: p50" in out
