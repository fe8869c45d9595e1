"""The LangGraph benchmark runs end to end (tiny sizes), so it cannot rot."""

from __future__ import annotations

import pytest

from tests.procs import run_bench


@pytest.mark.slow
@pytest.mark.pgvector
def test_langgraph_benchmark_runs_quick(server_url: str) -> None:
    out = run_bench("bench.langgraph", server_url, "--quick", timeout=300)
    assert "LangGraph store and checkpointer" in out
    assert "get_tuple by id (AgentLedgerSaver)" in out
