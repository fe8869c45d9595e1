"""The ``agentledger tenant``, ``key`` and ``spool`` commands against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agentledger import Ledger
from agentledger.cli import app, common
from agentledger.db.binding import Binding
from agentledger.db.spool import Spool
from agentledger.events import ops as events
from tests.conftest import ROOT


@pytest.fixture
def runner(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AGENTLEDGER_SPOOL_DIR", raising=False)
    monkeypatch.setattr(common, "out", Console(width=200))  # whole ids on one line
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def test_tenants_change_status_and_keys_are_made_listed_and_revoked(
    runner: CliRunner, sync_ledger: Ledger
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    created = _ok(runner, "tenant", "create", tid, "--name", "Acme")
    assert f"created tenant {tid} (active)" in created
    assert tid in _ok(runner, "tenant", "list")
    for action, status in (("suspend", "suspended"), ("activate", "active")):
        assert f"tenant {tid} is now {status}" in _ok(runner, "tenant", action, tid)
        assert sync_ledger.tenants.get(tid).status == status

    made = runner.invoke(
        app, ["key", "create", "--tenant", tid, "--role", "reader", "--name", "ci"]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]  # the secret alone on stdout's last line
    who = sync_ledger.tenants.authenticate(secret)
    assert who is not None and (who.tenant_id, who.role) == (tid, "reader")
    listed = _ok(runner, "key", "list", "--tenant", tid)
    assert str(who.key_id) in listed and "ci" in listed and "reader" in listed
    assert "yes" not in listed and secret not in listed
    assert f"revoked {who.key_id}" in _ok(runner, "key", "revoke", str(who.key_id), "--tenant", tid)
    assert sync_ledger.tenants.authenticate(secret) is None
    assert "yes" in _ok(runner, "key", "list", "--tenant", tid)

    assert f"tenant {tid} is now archived" in _ok(runner, "tenant", "archive", tid)
    assert sync_ledger.tenants.get(tid).status == "archived"


def test_a_refused_command_says_why_in_one_line_and_changes_nothing(
    database_url: str, tmp_path: Path, sync_ledger: Ledger
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentledger.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    for args, named in (
        (("key", "create", "--tenant", tid, "--role", "owner"), "role"),
        (("tenant", "suspend", f"no-{tid}"), f"no-{tid}"),
        # What the caller typed is quoted as typed, never read as Rich markup.
        (("key", "revoke", "[/oops]", "--tenant", tid), "'[/oops]' is not a UUID"),
        (("key", "create", "--tenant", tid, "--role", "[bold]boss"), "'[bold]boss'"),
    ):
        done = cli(*args)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith("error:") and named in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr  # one line, however long
    assert sync_ledger.tenant(tid).keys.list(include_revoked=True) == []
    assert sync_ledger.tenants.get(tid).status == "active"


def test_tenant_list_pages_through_every_tenant_and_shows_names_as_text(
    runner: CliRunner, sync_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentledger.cli import tenants as tenant_commands

    made = [f"t-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    for i, tid in enumerate(made):
        sync_ledger.tenants.create(tid, f"[/x] Acme {i}" if i == 0 else f"Acme {i}")
    monkeypatch.setattr(tenant_commands, "LIST_PAGE", 2)  # pages of two: many pages
    listed = _ok(runner, "tenant", "list")
    every = sync_ledger.tenants.list(limit=1000)
    assert len(every) > 2 and all(t.id in listed for t in every)
    assert "[/x] Acme 0" in listed


def test_the_spool_commands_report_and_replay_a_journal_once(
    runner: CliRunner, sync_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = runner.invoke(app, ["spool", "status"])
    assert refused.exit_code == 2 and "AGENTLEDGER_SPOOL_DIR" in refused.output

    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    # What a process wrote to its spool while PostgreSQL was down: two appends, and one
    # the database will refuse (the stream is not at version 5).
    spool = Spool(tmp_path / "spool")
    for n in range(2):
        spool.append(
            Binding(tid),
            events.append_fields("s", "Spooled", {"n": n}, event_id=uuid.uuid4()),
        )
    spool.append(
        Binding(tid),
        events.append_fields("late", "Spooled", event_id=uuid.uuid4(), expected_version=5),
    )
    monkeypatch.setenv("AGENTLEDGER_SPOOL_DIR", str(spool.directory))

    assert "3 pending, 0 dead, oldest" in _ok(runner, "spool", "status")
    assert "applied 2; 0 still pending, 1 dead" in _ok(runner, "spool", "replay")
    stored = sync_ledger.tenant(tid).events.read_stream("s")
    assert [(e.type, e.payload) for e in stored] == [("Spooled", {"n": 0}), ("Spooled", {"n": 1})]
    assert sync_ledger.tenant(tid).events.read_stream("late") == []

    assert "applied 0; 0 still pending, 1 dead" in _ok(runner, "spool", "replay")
    assert len(sync_ledger.tenant(tid).events.read_stream("s")) == 2
    assert "0 pending, 1 dead" in _ok(runner, "spool", "status")


def test_a_handler_that_cannot_be_had_is_named_without_a_traceback(runner: CliRunner) -> None:
    for handler, named in (
        ("no_such_module:handle", "cannot import no_such_module"),
        ("tests.task_proc:no_such_handler", "tests.task_proc has no no_such_handler"),
        ("tests.task_proc:_local", "tests.task_proc:_local is not callable"),
        (":handle", "is not module:function"),
    ):
        done = runner.invoke(app, ["worker", "q", handler, "--tenant", "t"])
        assert done.exit_code == 2, done.output
        assert named in " ".join(done.output.split()), done.output
        assert "Traceback" not in done.output


@pytest.mark.parametrize(
    "args", [("serve", "--port", "99999"), ("demo", "--port", "0"), ("mcp", "--port", "-1")]
)
def test_a_port_out_of_range_is_refused_before_anything_starts(
    runner: CliRunner, args: tuple[str, ...]
) -> None:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 2 and "--port" in done.output, done.output
