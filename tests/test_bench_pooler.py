"""The pooler benchmark runs end to end (PgBouncer in transaction mode, tiny sizes), so it
cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_pooler_benchmark_runs_quick(server_url: str) -> None:
    out = run_bench("bench.pooler", server_url, "--quick", "--fast", "--ops", "10")
    assert "pooler: single operations, one caller" in out
    assert "append, PgBouncer, pooler=transaction" in out
    assert "get, direct, pooler=transaction" in out
    assert "pooler: concurrent appends" in out
