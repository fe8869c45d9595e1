"""The cases benchmark runs end to end on tiny sizes, so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
def test_cases_bench_quick(server_url: str) -> None:
    out = run_bench("bench.cases", server_url, "--quick")
    assert "list(kind, status, order=score), 50 a page at 10,000 cases: p50" in out
    assert "aggregates(since=7 days) at 10,000 cases: p50" in out
    assert "p99 growth 10,000 / 1,000 cases, list, two filters by score" in out
    assert "p99 growth 10,000 / 1,000 cases, aggregates" in out
    assert "Index Scan using cases_kind_status_score" in out
    assert "cases at 10,000 (ratio > 1: slower)" in out
