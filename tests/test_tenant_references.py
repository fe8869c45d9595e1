"""The tenant reference of tasks (tasks_0003) and of events (audit_0012) holds as a foreign
key's would, checked once per statement: unknown tenants are refused, a tenant with rows
keeps its row, and a write and a delete of its tenant never both succeed, whichever comes
first."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest

from agentledger import Ledger, NotFound
from agentledger.ledger_sync import TenantScope


@dataclass(frozen=True)
class Reference:
    table: str
    columns: str
    row: str  # one row's VALUES for a tenant (%s), unique on its own
    write: Callable[[TenantScope], object]  # one row through the library

    def insert(self, rows: int = 1) -> str:
        """An INSERT of ``rows`` rows, each taking its tenant as a parameter."""
        values = ", ".join([self.row] * rows)
        return f"INSERT INTO agentledger.{self.table} ({self.columns}) VALUES {values}"


REFERENCES = [
    Reference("tasks", "tenant_id, queue", "(%s, 'q')", lambda s: s.tasks.enqueue("q", {})),
    Reference(
        "events",
        "tenant_id, event_id, stream, version, type, actor_type",
        "(%s, gen_random_uuid(), gen_random_uuid()::text, 1, 'Noted', 'agent')",
        lambda s: s.events.append("s", "Noted"),
    ),
]


@pytest.fixture(params=REFERENCES, ids=lambda r: r.table)
def ref(request: pytest.FixtureRequest) -> Reference:
    return request.param  # type: ignore[no-any-return]


def _count(database_url: str, ref: Reference, tenant: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM agentledger.{ref.table} WHERE tenant_id = %s", [tenant]
        ).fetchone()
    assert row is not None
    return int(row[0])


def _new_tenant(ledger: Ledger) -> str:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tenant, "Referenced")
    return tenant


def _wait_until_blocked(database_url: str, pid: int) -> None:
    """Until backend ``pid`` waits for a lock."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(500):
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid]
            ).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_a_row_for_an_unknown_tenant_is_refused_and_nothing_written(
    ref: Reference, ledger: Ledger, database_url: str
) -> None:
    tenant = _new_tenant(ledger)
    ref.write(ledger.tenant(tenant))
    with (
        psycopg.connect(database_url) as conn,
        pytest.raises(psycopg.errors.ForeignKeyViolation) as err,
    ):
        conn.execute(ref.insert(2), [tenant, "t-nobody"])
    assert err.value.diag.constraint_name == f"{ref.table}_tenant_id_fkey"
    assert "t-nobody" in str(err.value)
    assert _count(database_url, ref, tenant) == 1  # the refused statement wrote neither row
    assert _count(database_url, ref, "t-nobody") == 0
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            f"UPDATE agentledger.{ref.table} SET tenant_id = 't-nobody' WHERE tenant_id = %s",
            [tenant],
        )
    assert _count(database_url, ref, tenant) == 1


def test_a_tenant_with_rows_keeps_its_row(
    ref: Reference, ledger: Ledger, database_url: str
) -> None:
    tenant = _new_tenant(ledger)
    ref.write(ledger.tenant(tenant))
    with psycopg.connect(database_url) as conn:
        for statement in (
            "DELETE FROM agentledger.tenants WHERE id = %s",
            "UPDATE agentledger.tenants SET id = id || '-x' WHERE id = %s",
        ):
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"has {ref.table}"):
                conn.execute(statement, [tenant])
            conn.rollback()
    assert ledger.tenants.get(tenant).id == tenant


def test_a_write_in_flight_holds_its_tenant_against_a_delete(
    ref: Reference, ledger: Ledger, database_url: str, app_url: str
) -> None:
    """The delete waits for the writing transaction, then sees its rows."""
    tenant = _new_tenant(ledger)
    with psycopg.connect(app_url) as writer:
        writer.execute("SELECT agentledger.bind_tenant(%s)", [tenant])
        writer.execute(ref.insert(), [tenant])
        with psycopg.connect(database_url) as admin:
            admin.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                admin.execute("DELETE FROM agentledger.tenants WHERE id = %s", [tenant])
            admin.rollback()
            writer.commit()
            with pytest.raises(psycopg.errors.ForeignKeyViolation, match=f"has {ref.table}"):
                admin.execute("DELETE FROM agentledger.tenants WHERE id = %s", [tenant])
    assert _count(database_url, ref, tenant) == 1


def test_a_delete_in_flight_refuses_the_write_that_waited_for_it(
    ref: Reference, ledger: Ledger, database_url: str, app_url: str
) -> None:
    """The write, bound while its tenant still stood, waits for the delete and then fails."""
    tenant = _new_tenant(ledger)
    refused: list[BaseException] = []
    with psycopg.connect(database_url) as admin:
        admin.execute("DELETE FROM agentledger.tenants WHERE id = %s", [tenant])
        with psycopg.connect(app_url) as writer:
            writer.execute("SELECT agentledger.bind_tenant(%s)", [tenant])

            def write() -> None:
                try:
                    writer.execute(ref.insert(), [tenant])
                except psycopg.Error as exc:
                    refused.append(exc)

            thread = threading.Thread(target=write)
            thread.start()
            _wait_until_blocked(database_url, writer.info.backend_pid)
            admin.commit()
            thread.join(10)
            assert not thread.is_alive()
    assert len(refused) == 1
    assert isinstance(refused[0], psycopg.errors.ForeignKeyViolation)
    assert _count(database_url, ref, tenant) == 0


def test_the_library_reports_an_unknown_tenant_as_not_found(ref: Reference, ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ref.write(ledger.tenant("t-never-created"))
