"""Purging a tenant whose application tables are partitioned or reference themselves, and
while a transaction begun before the archive still writes: only the purged tenant's rows
go, the purge finishes, and a reference it cannot resolve is a Conflict that says so."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from agentledger import Conflict, Ledger, NotFound, PermissionDenied
from agentledger.migrations import tenant_table_sql
from tests.conftest import new_tenant

ROLE = "agentledger_app"  # the app role of the test databases

TABLES = [
    "CREATE SCHEMA fleet",
    f"GRANT USAGE ON SCHEMA fleet TO {ROLE}",
    # Partitioned by month; made as the test server's owner, a superuser, whom row-level
    # security does not hold.
    """CREATE TABLE fleet.readings (
        tenant_id text NOT NULL DEFAULT agentledger.current_tenant()
            REFERENCES agentledger.tenants (id),
        month date NOT NULL, id integer NOT NULL, value text,
        PRIMARY KEY (tenant_id, month, id)) PARTITION BY RANGE (month)""",
    "CREATE TABLE fleet.readings_01 PARTITION OF fleet.readings"
    " FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')",
    "CREATE TABLE fleet.readings_02 PARTITION OF fleet.readings"
    " FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')",
    "ALTER TABLE fleet.readings ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE fleet.readings FORCE ROW LEVEL SECURITY",
    """CREATE POLICY tenant_isolation ON fleet.readings
        USING (tenant_id = agentledger.current_tenant())
        WITH CHECK (tenant_id = agentledger.current_tenant())""",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON fleet.readings TO {ROLE}",
    # A thread of replies, each row's parent the row before.
    tenant_table_sql(
        "fleet.replies",
        """id integer NOT NULL, parent integer, other integer,
        FOREIGN KEY (tenant_id, parent) REFERENCES fleet.replies (tenant_id, id),
        FOREIGN KEY (tenant_id, other) REFERENCES fleet.replies (tenant_id, id)
            DEFERRABLE INITIALLY DEFERRED""",
        role=ROLE,
    ),
    "CREATE INDEX ON fleet.replies (tenant_id, parent)",
    "CREATE INDEX ON fleet.replies (tenant_id, other)",
    # Ids unique across tenants, so another tenant's row can reference one of them.
    tenant_table_sql(
        "fleet.items",
        "id integer NOT NULL UNIQUE, parent integer REFERENCES fleet.items (id)",
        role=ROLE,
    ),
]


@pytest.fixture(scope="module")
def fleet(database_url: str, sync_ledger: Ledger) -> Iterator[Ledger]:
    with psycopg.connect(database_url, autocommit=True) as su:
        for statement in TABLES:
            su.execute(statement)
    yield sync_ledger


def _count(url: str, query: str, tid: str) -> int:
    with psycopg.connect(url) as conn:  # the owner: every tenant's rows
        row = conn.execute(query, {"t": tid}).fetchone()
    assert row is not None
    return int(row[0])


def test_a_partitioned_table_keeps_another_tenants_rows(fleet: Ledger, database_url: str) -> None:
    gone, kept = new_tenant(fleet), new_tenant(fleet)
    insert = (
        "INSERT INTO fleet.readings (month, id, value)"
        " SELECT %(month)s::date, g, 'x' FROM generate_series(1, %(n)s) g"
    )
    # The kept tenant's rows take the same ctids in February as the purged one's in January.
    fleet.tenant(kept).execute(insert, {"month": "2024-02-15", "n": 5})
    fleet.tenant(gone).execute(insert, {"month": "2024-01-15", "n": 5})
    fleet.tenant(gone).execute(insert.replace("g,", "g + 100,"), {"month": "2024-02-15", "n": 3})
    fleet.tenants.archive(gone)
    result = fleet.tenants.purge(gone, batch_size=4)
    assert result.deleted == {"fleet.readings": 8}
    count = "SELECT count(*) FROM fleet.readings WHERE tenant_id = %(t)s"
    assert _count(database_url, count, gone) == 0
    assert _count(database_url, count, kept) == 5
    assert fleet.tenants.rows(kept) == {"fleet.readings": 5}


def test_a_table_that_references_itself_is_purged_leaves_first(
    fleet: Ledger, database_url: str
) -> None:
    tid, kept = new_tenant(fleet), new_tenant(fleet)
    chain = (
        "INSERT INTO fleet.replies (id, parent)"
        " SELECT g, nullif(g - 1, 0) FROM generate_series(1, 30) g"
    )
    for tenant in (tid, kept):
        fleet.tenant(tenant).execute(chain)
    # A row that answers itself, and two that answer each other.
    fleet.tenant(tid).execute(
        "INSERT INTO fleet.replies (id, parent, other) VALUES (40, 40, NULL), (41, 42, NULL),"
        " (42, NULL, 41)"
    )
    fleet.tenants.archive(tid)
    result = fleet.tenants.purge(tid, batch_size=10)
    assert result.deleted == {"fleet.replies": 33}
    count = "SELECT count(*) FROM fleet.replies WHERE tenant_id = %(t)s"
    assert _count(database_url, count, tid) == 0
    assert _count(database_url, count, kept) == 30


def test_a_cycle_longer_than_the_batch_is_refused_by_name(fleet: Ledger) -> None:
    tid = new_tenant(fleet)
    # A ring of six rows: no leaf anywhere, so the ring goes whole or not at all.
    fleet.tenant(tid).execute(
        "INSERT INTO fleet.replies (id, other) SELECT g, mod(g, 6) + 1 FROM generate_series(1, 6) g"
    )
    fleet.tenants.archive(tid)
    with pytest.raises(Conflict, match="cycle of more than 4 rows") as refused:
        fleet.tenants.purge(tid, batch_size=4)
    assert refused.value.field == "batch_size"
    assert fleet.tenants.rows(tid) == {"fleet.replies": 6}
    assert fleet.tenants.purge(tid, batch_size=6).deleted == {"fleet.replies": 6}


def test_a_reference_from_another_tenant_is_a_conflict_not_a_missing_row(
    fleet: Ledger,
) -> None:
    gone, other = new_tenant(fleet), new_tenant(fleet)
    fleet.tenant(gone).execute("INSERT INTO fleet.items (id) VALUES (1000)")
    fleet.tenant(other).execute("INSERT INTO fleet.items (id, parent) VALUES (1001, 1000)")
    fleet.tenants.archive(gone)
    with pytest.raises(Conflict, match="running the purge again resumes it") as refused:
        fleet.tenants.purge(gone)
    assert "could not delete from fleet.items" in str(refused.value)
    assert fleet.tenants.rows(gone) == {"fleet.items": 1}


def test_a_purge_deletes_a_case_committed_while_it_ran(fleet: Ledger, database_url: str) -> None:
    tid = new_tenant(fleet)
    scope = fleet.tenant(tid)
    scope.cases.define_kind(
        "issue", ["open", "done"], transitions={"open": ["done"]}, terminal=["done"]
    )
    for n in range(12):
        scope.cases.create("issue", f"case {n}")
    written, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    outcome: list[object] = []

    def writer() -> None:  # began while the tenant was active; commits during the purge
        try:
            with scope.transaction() as tx:
                tx.cases.create("issue", "late")
                written.set()
                assert release.wait(30)
        except BaseException as exc:  # the test reports it
            failures.append(exc)
            written.set()

    def purge() -> None:
        try:
            outcome.append(fleet.tenants.purge(tid, batch_size=5))
        except BaseException as exc:  # the test reports it
            failures.append(exc)

    late = threading.Thread(target=writer)
    late.start()
    assert written.wait(10)
    fleet.tenants.archive(tid)
    purging = threading.Thread(target=purge)
    purging.start()
    try:
        _wait_for_purge_blocked(database_url)
    finally:
        release.set()
        late.join(30)
        purging.join(60)
    assert not failures, failures
    assert len(outcome) == 1
    for table in ("cases", "case_statuses", "case_kinds", "events"):
        query = f"SELECT count(*) FROM agentledger.{table} WHERE tenant_id = %(t)s"
        assert _count(database_url, query, tid) == 0, table
    with pytest.raises(NotFound):
        fleet.tenants.get(tid)


def _wait_for_purge_blocked(url: str) -> None:
    """Until a purge batch waits for a lock (the writer's, on a row it references)."""
    deadline = time.monotonic() + 20
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%%purge_tenant%%'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    pytest.fail("the purge never waited for the open transaction")


def test_a_tenant_bound_caller_cannot_call_the_purge(fleet: Ledger) -> None:
    victim, attacker = new_tenant(fleet), new_tenant(fleet)
    fleet.tenant(victim).events.append("s", "Happened", {"n": 1})
    fleet.tenants.archive(victim)
    with pytest.raises(PermissionDenied, match="only through the platform scope"):
        fleet.tenant(attacker).fetch(
            "SELECT * FROM agentledger.purge_tenant_v2(%(t)s, 100)", {"t": victim}
        )
    assert fleet.tenants.rows(victim) == {"agentledger.events": 1}
