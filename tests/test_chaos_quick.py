"""`python -m chaos --quick` runs every reliability and security scenario end to end: each
passes, or says why it could not run here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What this suite needs from the machine: processes to kill and its own PostgreSQL.
MUST_RUN = {
    "PostgreSQL killed under load",
    "Optimistic concurrency",
    "Commit reordering",
    "Row-level security at the database",
    "Tenant isolation at the API (BOLA)",
    "API process killed mid-request",
    "Database outage with the spool",
    "Task exactly-once under SIGKILL",
    "Flood: oversized bodies, pages and request rate",
    "API cut off from PostgreSQL",
}


@pytest.mark.slow
def test_quick_chaos_run_passes_and_publishes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chaos", "--quick", "--out", str(tmp_path), "--no-doc"],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    data = json.loads((tmp_path / "latest.json").read_text())
    rows = {r["scenario"]: r for r in data["results"]}
    failed = {n: r["reason"] for n, r in rows.items() if r["passed"] is False}
    assert not failed, failed
    assert done.returncode == 0, done.stderr[-3000:]
    assert {n for n, r in rows.items() if r["passed"] is True} >= MUST_RUN
    for row in rows.values():
        assert row["passed"] is not None or row["reason"]  # not run: always with a reason
        if row["passed"]:
            assert row["operations"] > 0
            assert row["lost"] == row["duplicated"] == row["leaked"] == 0
    assert "agentledger reliability and security" in done.stdout


def test_only_some_scenarios_replace_their_rows_and_keep_the_others(tmp_path: Path) -> None:
    from chaos.__main__ import publish
    from chaos.common import Result

    meta = {"quick": False, "seconds": 30, "python": "3", "platform": "x", "cpus": 2}
    old = [
        {**Result("PostgreSQL killed under load", "m", seconds=10.0).as_json(), "module": ""},
        Result("Lost unsynced writes (power loss)", "m", reason="not run here").as_json(),
        Result("API fuzzing (schemathesis)", "m", seconds=20.0).as_json(),
    ]
    (tmp_path / "latest.json").write_text(json.dumps({"machine": meta, "results": old}))
    new = [
        Result("Lost unsynced writes (power loss)", "m", passed=True, seconds=5.0),
        Result("Lost unsynced writes: control", "m", passed=True, seconds=4.0),
    ]
    for row in new:
        row.module = "unsynced"

    publish(new, {**meta, "seconds": 9}, tmp_path, None, only=True)

    data = json.loads((tmp_path / "latest.json").read_text())
    assert [r["scenario"] for r in data["results"]] == [
        "PostgreSQL killed under load",
        "Lost unsynced writes (power loss)",
        "Lost unsynced writes: control",
        "API fuzzing (schemathesis)",
    ]
    assert [r["passed"] for r in data["results"]] == [None, True, True, None]
    assert data["machine"]["rerun"] == ["unsynced"]
    assert data["machine"]["seconds"] == 39
