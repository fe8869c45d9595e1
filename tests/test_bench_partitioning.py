"""The partitioning benchmark runs end to end (tiny sizes), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_partitioning_benchmark_runs_tiny(server_url: str) -> None:
    out = run_bench(
        "bench.partitioning", server_url, "--rows", "2400", "--samples", "10", timeout=300
    )
    assert "Retention of one month" in out
    assert "events_parted" in out
