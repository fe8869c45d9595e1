"""The relay benchmark runs end to end (tiny sizes), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_relay_benchmark_runs_quick(server_url: str, jetstream: str) -> None:
    out = run_bench(
        "bench.relay", server_url, "--quick", "--events", "500", "--lag-events", "160", timeout=300
    )
    assert "Outbox relay to JetStream" in out
    assert "End-to-end lag under 8 writers" in out
