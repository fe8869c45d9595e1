"""The event log benchmark runs end to end (tiny sizes), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_events_benchmark_runs_quick(server_url: str) -> None:
    out = run_bench(
        "bench.events", server_url, "--quick", "--singles", "5", "--batch", "20", timeout=300
    )
    assert "Follower behind 8 concurrent writers" in out
