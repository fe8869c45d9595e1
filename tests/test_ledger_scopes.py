"""What a tenant scope and an open transaction hand their modules, on both faces."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

import psycopg
import pytest

from agentledger import ConfigError, Ledger, Task


def _handle(task: Task) -> dict[str, Any]:
    return {}


def test_workers_start_from_a_tenant_scope_not_inside_a_transaction(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    assert scope.tasks.worker("q", _handle) is not None  # built, not run
    with scope.transaction() as tx:
        assert tx.tenant_id == tenant_id
        with pytest.raises(RuntimeError, match="not inside a transaction"):
            tx.tasks.worker("q", _handle)


def _use_in_child(ledger: Ledger, tenant: str, answers: Any) -> None:
    """In a forked child: try the parent's ledger, then close it as a child's exit would."""
    try:
        ledger.tenant(tenant).events.append("s", "FromChild", {})
        answers.put("served")
    except ConfigError as exc:
        answers.put(f"refused: {exc}")
    ledger.close()  # must leave the parent's sessions alone


def test_a_ledger_opened_before_a_fork_refuses_the_child(sync_ledger: Ledger) -> None:
    """A forked child shares the parent's sockets: two processes on one session corrupt it.
    The child is refused by name, and its closing the ledger does not end the parent's
    sessions."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    events = sync_ledger.tenant(tenant).events
    events.append("s", "Before", {})
    sessions = _app_sessions(sync_ledger)
    fork = multiprocessing.get_context("fork")
    answers = fork.Queue()
    child = fork.Process(target=_use_in_child, args=(sync_ledger, tenant, answers))
    child.start()
    child.join(60)
    answer = answers.get(timeout=10)
    assert answer.startswith("refused: this ledger was opened in process"), answer
    assert child.exitcode == 0
    assert sessions <= _app_sessions(sync_ledger)  # none ended under the parent (it may open more)
    events.append("s", "After", {})
    assert [e.type for e in events.read_stream("s")] == ["Before", "After"]


def _app_sessions(ledger: Ledger) -> set[int]:
    """The server processes of the application role's sessions on the ledger's database."""
    with psycopg.connect(ledger.db.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename = %s",
            [ledger.settings.app_role],
        ).fetchall()
    return {row[0] for row in rows}
