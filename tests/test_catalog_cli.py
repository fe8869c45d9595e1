"""The ``agentledger catalog`` commands against a real database."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agentledger import Ledger, NotFound
from agentledger.cli import app, common


@pytest.fixture
def runner(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(common, "out", Console(width=200))
    monkeypatch.setattr(common, "err", Console(width=200, stderr=True))
    return CliRunner()


def test_push_show_and_list(sync_ledger: Ledger, runner: CliRunner, tmp_path: Path) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    envelope = tmp_path / "playbook.json"
    envelope.write_text(
        json.dumps(
            {
                "doc_type": "playbook",
                "name": "settle",
                "title": "Settlement fail",
                "content": {"steps": [{"order": 1, "action_type": "notify"}]},
            }
        )
    )
    pushed = runner.invoke(app, ["catalog", "push", str(envelope), "--tenant", tid])
    assert pushed.exit_code == 0, pushed.output
    assert "playbook settle version 1" in pushed.output
    bare = tmp_path / "v2.json"
    bare.write_text(json.dumps({"steps": []}))
    again = runner.invoke(
        app,
        ["catalog", "push", str(bare), "--tenant", tid, "--type", "playbook", "--name", "settle"],
    )
    assert again.exit_code == 0 and "version 2" in again.output, again.output
    catalog = sync_ledger.tenant(tid).catalog
    assert catalog.get_latest("playbook", "settle").content == {"steps": []}
    assert catalog.get_version("playbook", "settle", 1).title == "Settlement fail"

    shown = runner.invoke(app, ["catalog", "show", "settle", "--tenant", tid, "--version", "1"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == {"steps": [{"order": 1, "action_type": "notify"}]}
    assert "playbook settle version 1" in shown.stderr
    latest = runner.invoke(
        app, ["catalog", "show", "settle", "--type", "playbook", "--tenant", tid]
    )
    assert json.loads(latest.stdout) == {"steps": []}

    name = f"pack-{uuid.uuid4().hex[:8]}"
    pack = tmp_path / "pack.json"
    pack.write_text(json.dumps({"doc_type": "domain_pack", "name": name, "content": {"v": 1}}))
    made = runner.invoke(app, ["catalog", "push", str(pack), "--global"])
    assert made.exit_code == 0 and "(global)" in made.output, made.output
    seen = runner.invoke(app, ["catalog", "show", name, "--tenant", tid])
    assert json.loads(seen.stdout) == {"v": 1} and "(global)" in seen.stderr
    listed = runner.invoke(app, ["catalog", "list", "--tenant", tid])
    assert listed.exit_code == 0, listed.output
    assert "settle" in listed.output and name in listed.output
    tenant_only = runner.invoke(app, ["catalog", "list", "--tenant", tid, "--scope", "tenant"])
    assert "settle" in tenant_only.output and name not in tenant_only.output
    platform = runner.invoke(app, ["catalog", "list", "--global", "--type", "domain_pack"])
    assert name in platform.output and "settle" not in platform.output
    sync_ledger.platform_catalog.delete_document("domain_pack", name)


def test_mistakes_are_reported(sync_ledger: Ledger, runner: CliRunner, tmp_path: Path) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    content = tmp_path / "c.json"
    content.write_text(json.dumps({"steps": []}))
    both = runner.invoke(app, ["catalog", "list", "--tenant", tid, "--global"])
    assert both.exit_code == 2 and "exactly one of --tenant or --global" in both.stderr
    neither = runner.invoke(app, ["catalog", "list"])
    assert neither.exit_code == 2
    no_name = runner.invoke(app, ["catalog", "push", str(content), "--tenant", tid])
    assert no_name.exit_code == 2 and "--type and --name" in no_name.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    unreadable = runner.invoke(app, ["catalog", "push", str(broken), "--tenant", tid])
    assert unreadable.exit_code == 2 and "not a readable JSON file" in unreadable.stderr
    missing = runner.invoke(app, ["catalog", "show", "nothing", "--tenant", tid])
    assert isinstance(missing.exception, NotFound)
    for doc_type in ("tool", "playbook"):
        sync_ledger.tenant(tid).catalog.create_version(doc_type, "twin", {})
    twins = runner.invoke(app, ["catalog", "show", "twin", "--tenant", tid])
    assert twins.exit_code == 2 and "playbook, tool" in twins.stderr
