"""The ``agentledger case`` commands against a real database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agentledger import Ledger
from agentledger.cli import app, common
from tests.test_cases import BOTTLENECK


def test_case_list_and_show(
    sync_ledger: Ledger, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    cases = sync_ledger.tenant(tid).cases
    cases.define_kind("bottleneck", **BOTTLENECK)
    slow = cases.create("bottleneck", "Slow [CI] runners", ref="B-1", score=8, owner="ana")
    cases.create("bottleneck", "Flaky tests", ref="B-2", score=3)
    cases.transition(slow.id, "in_progress", by="orchestrator", reason="picked up")
    cases.comment(slow.id, "adding runners", by="ana")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(common, "out", Console(width=200))  # whole ids on one line
    runner = CliRunner()
    listed = runner.invoke(app, ["case", "list", "--tenant", tid, "--order", "score"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.index("Slow [CI] runners") < listed.output.index("Flaky tests")
    assert str(slow.id) in listed.output
    pending = runner.invoke(
        app, ["case", "list", "--tenant", tid, "--status", "pending", "--kind", "bottleneck"]
    )
    assert pending.exit_code == 0, pending.output
    assert "Flaky tests" in pending.output and "Slow [CI]" not in pending.output
    for key in (str(slow.id), "B-1"):
        shown = runner.invoke(app, ["case", "show", key, "--tenant", tid])
        assert shown.exit_code == 0, shown.output
        assert "Slow [CI] runners" in shown.output and "in_progress" in shown.output
        assert "CaseCreated" in shown.output and "CaseStatusChanged" in shown.output
        assert "CaseCommented" in shown.output and "picked up" in shown.output
    missing = runner.invoke(app, ["case", "show", "B-404", "--tenant", tid])
    assert missing.exit_code != 0
    bad = runner.invoke(app, ["case", "list", "--tenant", tid, "--order", "title"])
    assert bad.exit_code != 0
