"""The task benchmark still runs (tiny size; its numbers are not checked here)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_bench_runs_quick(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import tasks

    monkeypatch.setenv("DATABASE_URL", server_url)
    tasks.main(["--quick", "--tasks", "200"])
