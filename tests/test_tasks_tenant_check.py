"""tasks_0003: the tenant reference of tasks holds as a foreign key's would, checked once per
statement: unknown tenants are refused, a tenant with tasks keeps its row, and a batch
being written holds its tenant against a concurrent delete."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from agentledger import Ledger, NotFound


def _count(database_url: str, tenant: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM agentledger.tasks WHERE tenant_id = %s", [tenant]
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_task_for_an_unknown_tenant_is_refused_and_nothing_written(
    ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    ledger.tenant(tenant_id).tasks.enqueue_many("q", [{"n": 1}, {"n": 2}])
    with (
        psycopg.connect(database_url) as conn,
        pytest.raises(psycopg.errors.ForeignKeyViolation) as err,
    ):
        conn.execute(
            "INSERT INTO agentledger.tasks (tenant_id, queue) VALUES (%s, 'q'), ('t-nobody', 'q')",
            [tenant_id],
        )
    assert err.value.diag.constraint_name == "tasks_tenant_id_fkey"
    assert "t-nobody" in str(err.value)
    assert _count(database_url, tenant_id) == 2  # the refused statement wrote neither row
    assert _count(database_url, "t-nobody") == 0
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "UPDATE agentledger.tasks SET tenant_id = 't-nobody' WHERE tenant_id = %s",
            [tenant_id],
        )
    assert _count(database_url, tenant_id) == 2


def test_a_tenant_with_tasks_keeps_its_row(
    ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    ledger.tenant(tenant_id).tasks.enqueue("q", {"n": 1})
    with psycopg.connect(database_url) as conn:
        for statement in (
            "DELETE FROM agentledger.tenants WHERE id = %s",
            "UPDATE agentledger.tenants SET id = id || '-x' WHERE id = %s",
        ):
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="still has tasks"):
                conn.execute(statement, [tenant_id])
            conn.rollback()
    assert ledger.tenants.get(tenant_id).id == tenant_id


def test_a_batch_in_flight_holds_its_tenant_against_a_delete(
    ledger: Ledger, database_url: str, app_url: str
) -> None:
    """The trigger's KEY SHARE lock: the delete waits for the batch, then sees its tasks."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tenant, "In flight")
    with psycopg.connect(app_url) as writer:
        writer.execute("SELECT agentledger.bind_tenant(%s)", [tenant])
        writer.execute(
            "INSERT INTO agentledger.tasks (tenant_id, queue) VALUES (%s, 'q')", [tenant]
        )
        with psycopg.connect(database_url) as admin:
            admin.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                admin.execute("DELETE FROM agentledger.tenants WHERE id = %s", [tenant])
            admin.rollback()
            writer.commit()
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match="still has tasks"):
                admin.execute("DELETE FROM agentledger.tenants WHERE id = %s", [tenant])
    assert _count(database_url, tenant) == 1


def test_the_library_reports_an_unknown_tenant_as_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.tenant("t-never-created").tasks.enqueue("q", {"n": 1})
