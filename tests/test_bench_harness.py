"""`python -m bench` still runs end to end and publishes (tiny sizes; figures not checked)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest


@pytest.mark.slow
def test_bench_runner_publishes_json_markdown_and_chart(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.__main__ as runner
    from bench.common import RECORDED

    monkeypatch.setenv("DATABASE_URL", server_url)
    RECORDED.clear()
    tiny = ["--", "--singles", "5", "--batch", "20"]
    runner.main(["--quick", "--only", "events", "--out", str(tmp_path), *tiny])
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["machine"]["quick"] is True and data["results"]
    assert all(r["time_ratio"] > 0 for r in data["results"])
    # The header says how the server commits (the embedded test server: without fsync).
    with psycopg.connect(server_url) as conn:
        fsync = conn.execute("SHOW fsync").fetchone()
    label = "durable server" if fsync == ("on",) else "fsync off, synchronous_commit off"
    assert data["machine"]["durability"] == label
    single = [r for r in data["results"] if r["scenario"] == "append (library)"]
    assert single and all("latency_ms" in r for r in single)
    for side in ("ours", "baseline"):
        p50, p99 = single[0]["latency_ms"][side]
        assert 0 < p50 <= p99
    markdown = (tmp_path / "latest.md").read_text()
    assert "| time ratio |" in markdown and label in markdown
    assert (tmp_path / "latest.svg").read_text().startswith("<svg")
