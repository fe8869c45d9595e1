"""The purge benchmark runs end to end (tiny sizes), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_purge_benchmark_runs_quick(server_url: str) -> None:
    out = run_bench("bench.purge", server_url, "--quick", "--fast", "--events", "300")
    assert "purge a tenant of" in out
    assert "tenants.purge, batch 10,000 (library)" in out
    assert "one transaction of DELETEs (raw psycopg, owner)" in out
