"""The ``agentledger session`` commands against a real database."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agentledger import Ledger
from agentledger.cli import app, common


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
    monkeypatch.setattr(common, "out", Console(width=200))  # whole ids on one line
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
    shown = runner.invoke(app, ["session", "language", str(sid), "--tenant", tid])
    assert shown.exit_code == 0, shown.output
    assert "language english (the tenant's): 0 segments to re-index" in shown.output
    switched = runner.invoke(app, ["session", "language", str(sid), "german", "--tenant", tid])
    assert switched.exit_code == 0, switched.output
    assert "language german: 2 segments to re-index, 1 batches left" in switched.output
    assert sessions.get(sid).language == "german"
    cleared = runner.invoke(app, ["session", "language", str(sid), "--clear", "--tenant", tid])
    assert cleared.exit_code == 0, cleared.output
    assert "language english (the tenant's): 0 segments" in cleared.output
    bad = runner.invoke(app, ["session", "language", str(sid), "klingon", "--tenant", tid])
    assert bad.exit_code != 0 and "german" in str(bad.exception)  # main() prints it


def _json_store(root: Path) -> None:
    """A small JSON session store: two sessions, one with a malformed tasks file."""
    for n, (sid, tasks) in enumerate([("s-one", "[]"), ("s-two", "{not json")]):
        folder = root / "sessions" / sid
        (folder / "chunks").mkdir(parents=True)
        (folder / "session.json").write_text(
            json.dumps({"id": sid, "title": f"Session {n}", "participants": ["ana"]})
        )
        (folder / "chunks.json").write_text(
            json.dumps([{"id": "c1", "seq": 1, "format": "dialogue", "author": "ana"}])
        )
        (folder / "chunks" / "c1.txt").write_text(f"the heron flies {n}")
        (folder / "memories.json").write_text(
            json.dumps({"k": {"type": "idea", "content": "herons", "tags": ["bird"]}})
        )
        (folder / "tasks.json").write_text(tasks)


def _row(output: str, kind: str) -> list[str]:
    """The "in JSON" and "imported now" cells of a kind's row in the report table."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 3 and cells[1] == kind:
            return cells[2:4]
    raise AssertionError(f"no {kind} row in {output}")


def test_import_sessions_counts_skips_and_runs_twice(
    sync_ledger: Ledger, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    _json_store(tmp_path / "store")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(common, "out", Console(width=200))
    monkeypatch.setattr(common, "err", Console(width=400, stderr=True))
    runner = CliRunner()
    args = ["import", "sessions", str(tmp_path / "store"), "--tenant", tid]
    first = runner.invoke(app, args)
    # The malformed tasks file is named and skipped; the rest of its session is imported.
    assert first.exit_code == 1, first.output
    assert "tasks.json" in first.output
    assert _row(first.output, "sessions") == ["2", "2"]
    assert _row(first.output, "chunks") == ["2", "2"]
    scope = sync_ledger.tenant(tid)
    assert sorted(s.title for s in scope.sessions.list()) == ["Session 0", "Session 1"]
    assert len(scope.memory.list()) == 2
    again = runner.invoke(app, args)
    assert _row(again.output, "sessions") == ["2", "0"]
    assert _row(again.output, "memories") == ["2", "0"]
    assert len(scope.sessions.list()) == 2
    missing = runner.invoke(app, ["import", "sessions", str(tmp_path / "nowhere"), "--tenant", tid])
    assert missing.exit_code == 2 and "not a directory" in missing.output
    nobody = runner.invoke(
        app, ["import", "sessions", str(tmp_path / "store"), "--tenant", "nobody-x"]
    )
    assert nobody.exit_code != 0 and len(scope.sessions.list()) == 2
