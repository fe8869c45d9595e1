"""The memory benchmarks run end to end on tiny sizes, so they cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_memory_bench_quick(server_url: str) -> None:
    assert "p50 / p99" in run_bench("bench.memory", server_url, "--quick")


@pytest.mark.slow
def test_memory_graph_bench_quick(server_url: str) -> None:
    out = run_bench("bench.memory_graph", server_url, "--quick")
    assert "loaded 500 nodes and 2,000 edges" in out
    assert "p99 growth" in out
