"""The ``agentledger session`` commands against a real database."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agentledger import Ledger, cli
from agentledger.cli import app


def test_session_list_show_and_search(
    sync_ledger: Ledger, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    sessions = sync_ledger.tenant(tid).sessions
    sid = sessions.create("Kickoff", participants=["ana"]).id
    sessions.add_chunk(sid, "we picked the vermilion logo", author="ana")
    sessions.save_artifact(sid, "brief.md", "# Brief", artifact_type="document")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "out", Console(width=200))  # whole ids on one line
    runner = CliRunner()
    listed = runner.invoke(app, ["session", "list", "--tenant", tid])
    assert listed.exit_code == 0, listed.output
    assert str(sid) in listed.output and "Kickoff" in listed.output
    shown = runner.invoke(app, ["session", "show", str(sid), "--tenant", tid])
    assert shown.exit_code == 0, shown.output
    assert "brief.md v1" in shown.output and "#1 dialogue by ana" in shown.output
    found = runner.invoke(app, ["session", "search", "vermilion", "--tenant", tid])
    assert found.exit_code == 0, found.output
    assert "[[vermilion]]" in found.output and str(sid) in found.output
