"""The sessions benchmark runs end to end on tiny sizes, so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_sessions_bench_quick(server_url: str) -> None:
    out = run_bench("bench.sessions", server_url, "--quick")
    assert "sessions: chunk appends" in out
    assert "add_chunk 1 KB" in out and "add_chunk 1 MB" in out
    assert "search over 5,000 chunks, all (40 queries): p50" in out
    assert "p99 growth 5,000 / 500 chunks" in out
    assert "imported a run: 5 sessions, 100 chunks, 50 memories, 50 tasks" in out
    assert "sessions: the JSON importer, rows/s" in out
