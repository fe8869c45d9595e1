"""Purging an archived tenant: every row it holds in every table (the application's own
included) is deleted in short batches, then the tenant; another tenant's rows stay whole;
an active tenant, an unknown one, a bad batch size and a tenant-bound caller are refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from agentledger import (
    ChannelBlob,
    IllegalTransition,
    InvalidInput,
    Ledger,
    NewEvent,
    NotFound,
    PermissionDenied,
    Settings,
    cli as cli_module,
    demo,
)
from agentledger.api import create_app
from agentledger.db.reporting import grants
from agentledger.migrations import tenant_table_sql
from tests.api_support import ADMIN
from tests.conftest import APP_SPEC, clone_database, drop_database, new_tenant
from tests.http_server import client, serve

NOTES = "app_sample.notes"
ROLE = "agentledger_app"  # the app role of the test databases


def _fill(ledger: Ledger, tid: str) -> None:
    """Rows of the tenant in as many tables as the library writes."""
    demo.load(ledger, tid, days=2)  # memory, runs, decisions, alerts, events, agents, tasks
    scope = ledger.tenant(tid)
    mem = scope.memory
    mem.declare_space("small", dimensions=3)
    mem.set_default_space("small")
    mem.set_language("german", kind="notiz")
    mem.set_language("english")
    mem.define_vocabulary(relationship_types=["knows", "works_at", "belongs_to", "decides_on"])
    a = mem.upsert("person", "Ada", embedding=[0.1, 0.2, 0.3])
    b = mem.upsert("notiz", "Zettel", key="z1", embedding=[0.3, 0.2, 0.1])
    mem.relate(a.id, b.id, "knows")
    scope.expiry.set_ttls([a.id], [3600.0])
    sessions = scope.sessions
    session = sessions.create(title="call")
    sessions.add_chunk(session.id, "we spoke about the plan")
    sessions.save_artifact(session.id, "notes", "the plan, in full", artifact_type="document")
    cases = scope.cases
    cases.define_kind("issue", ["open", "done"], transitions={"open": ["done"]}, terminal=["done"])
    one, two = cases.create("issue", "first").id, cases.create("issue", "second").id
    cases.link_entity(one, a.id)
    cases.block(one, two)
    cases.transition(two, "done")
    tallies = {"agentledger.case_tallies", "agentledger.case_tally_deltas"}
    while not tallies <= set(ledger.tenants.rows(tid)):  # a delta in 32 folds the tallies
        cases.create("issue", "one more")
    scope.catalog.create_version("playbook", "p", {"steps": ["look"]})
    scope.catalog.register_schema("playbook", {"type": "object"})
    scope.checkpoints.put(
        "thread",
        "",
        "c1",
        type="bytes",
        checkpoint=b"checkpoint",
        channel_versions={"a": "1"},
        blobs=[ChannelBlob(channel="a", version="1", type="bytes", blob=b"A")],
    )
    scope.checkpoints.put_writes("thread", "", "c1", "task", [(0, "a", "bytes", b"w")])
    scope.events.save_checkpoint("reader", scope.events.read_all(0)[-1].position)
    scope.alerts.create(1, "disk", dedup_key="disk")
    scope.alerts.create(1, "disk", dedup_key="disk")  # a second request for the same alert
    scope.tasks.enqueue("chores", {"n": 1})
    (claimed,) = scope.tasks.claim("chores")
    scope.tasks.complete(claimed)
    assert scope.tasks.prune(older_than=0) == 1  # into the archive
    key = scope.keys.create(role="reader", name="k")
    ledger.tenants.sign_in(key.secret)
    scope.execute(f"INSERT INTO {NOTES} (id, body) VALUES (1, 'mine'), (2, 'also')")


def _counts(url: str, tid: str) -> dict[str, int]:
    """Rows of ``tid`` in every table with a tenant_id column, read as the owner."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            """
            SELECT c.oid::regclass::text
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND a.attname = 'tenant_id' AND NOT a.attisdropped
              AND c.relnamespace NOT IN ('pg_catalog'::regnamespace,
                                         'information_schema'::regnamespace)
            """
        ).fetchall()
        counts = {}
        for (table,) in tables:
            query = sql.SQL("SELECT count(*) FROM {} WHERE tenant_id = %s").format(sql.SQL(table))
            row = conn.execute(query, (tid,)).fetchone()
            assert row is not None
            counts[table] = row[0]
    return counts


@pytest.mark.pgvector
def test_a_purge_deletes_every_row_of_the_tenant_and_nothing_of_another(
    app_sync: Ledger, database_url: str
) -> None:
    gone, kept = new_tenant(app_sync), new_tenant(app_sync)
    for tid in (gone, kept):
        _fill(app_sync, tid)
    grants.grant(database_url, "purge_reader", tenant_id=gone, password="pw-1234567890")
    before = _counts(database_url, gone)
    held = {table for table, n in before.items() if n}
    # The fill reaches every table: a new module's table gets rows here too.
    assert held == set(before), sorted(set(before) - held)
    assert app_sync.tenants.rows(gone) == {t: n for t, n in before.items() if n}
    kept_before = _counts(database_url, kept)

    app_sync.tenants.archive(gone)
    seen: Counter[str] = Counter()

    def note(table: str, count: int) -> None:
        seen[table] += count

    result = app_sync.tenants.purge(gone, batch_size=50, progress=note)
    assert result.deleted == dict(seen)
    # Deleting the cases changes their tallies (a delta, or a fold), deleted next.
    for table in ("agentledger.case_tallies", "agentledger.case_tally_deltas"):
        assert result.deleted.pop(table) > 0 and before.pop(table) > 0
    assert result.deleted == before
    assert result.batches > len(held)  # the large tables took several batches
    # The application's table was emptied before the core's.
    assert next(iter(result.deleted)) == NOTES

    assert set(_counts(database_url, gone).values()) == {0}
    assert _counts(database_url, kept) == kept_before
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM agentledger.tenants WHERE id = %(t)s),"
            " (SELECT count(*) FROM agentledger.reporting_grants WHERE tenant = %(t)s)",
            {"t": gone},
        ).fetchone()
    assert left == (0, 0)
    with pytest.raises(NotFound, match="does not exist"):
        app_sync.tenants.get(gone)
    # The id can be taken again, by a tenant that starts with nothing (no old grant).
    app_sync.tenants.create(gone)
    assert app_sync.tenants.rows(gone) == {}


def test_the_purge_order_covers_every_tenant_table(app_sync: Ledger, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        order = conn.execute("SELECT unnest(agentledger.tenant_tables_v1())::text").fetchall()
    listed = [name for (name,) in order]
    with_tenant = set(_counts(database_url, "nobody"))
    # A table of a new module that holds tenant_id must be added to the purge's list.
    assert set(listed) == with_tenant
    assert listed[0] == NOTES and listed[1:3] == ["agentledger.sign_ins", "agentledger.api_keys"]
    assert len(listed) == len(set(listed))


def test_a_purge_is_refused_unless_the_tenant_is_archived(
    ledger: Ledger, database_url: str
) -> None:
    tid = new_tenant(ledger)
    ledger.tenant(tid).events.append("s", "Happened", {"n": 1})
    with pytest.raises(IllegalTransition, match=f"tenant '{tid}' is active: archive it") as err:
        ledger.tenants.purge(tid)
    assert err.value.field == "id"
    ledger.tenants.suspend(tid)
    with pytest.raises(IllegalTransition, match="is suspended"):
        ledger.tenants.purge(tid)
    with pytest.raises(NotFound, match="tenant 'no-such-tenant' does not exist"):
        ledger.tenants.purge("no-such-tenant")
    with pytest.raises(NotFound, match="does not exist"):
        ledger.tenants.rows("no-such-tenant")
    ledger.tenants.archive(tid)
    for bad in (0, -1, 10**9):
        with pytest.raises(InvalidInput) as refused:
            ledger.tenants.purge(tid, batch_size=bad)
        assert refused.value.field == "batch_size"
    with pytest.raises(InvalidInput, match="tenant id"):
        ledger.tenants.purge("not a tenant id")
    assert _counts(database_url, tid)["agentledger.events"] == 1


def test_a_tenant_bound_caller_cannot_purge(
    app_sync: Ledger, app_url: str, database_url: str
) -> None:
    victim, attacker = new_tenant(app_sync), new_tenant(app_sync)
    app_sync.tenant(victim).events.append("s", "Happened", {"n": 1})
    app_sync.tenants.archive(victim)
    with pytest.raises(PermissionDenied, match="only through the platform scope"):
        app_sync.tenant(attacker).fetch(
            "SELECT * FROM agentledger.purge_tenant_v1(%(t)s, 100)", {"t": victim}
        )
    with pytest.raises(PermissionDenied, match="only through the platform scope"):
        app_sync.tenant(attacker).fetch(
            "SELECT * FROM agentledger.tenant_rows_v1(%(t)s)", {"t": victim}
        )
    with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT agentledger.tenant_tables_v1()")
    assert _counts(database_url, victim)["agentledger.events"] == 1


def test_application_tables_are_emptied_referencing_ones_first(
    server_url: str, template_url: str, tmp_path: Path
) -> None:
    """Found in the catalog: a table that references another of the application's goes
    first, whatever their names (alphabetically, the referenced one comes first here)."""
    url = clone_database(server_url, template_url, "purge_app_order")
    try:
        with psycopg.connect(url, autocommit=True) as su:
            su.execute("CREATE SCHEMA shop; GRANT USAGE ON SCHEMA shop TO agentledger_app")
            su.execute(tenant_table_sql("shop.a_orders", "id bigint NOT NULL", role=ROLE))
            lines = """
                id bigint NOT NULL, order_id bigint NOT NULL,
                FOREIGN KEY (tenant_id, order_id) REFERENCES shop.a_orders (tenant_id, id)
            """
            su.execute(tenant_table_sql("shop.z_lines", lines, role=ROLE))
        settings = Settings.build(database_url=url, data_dir=tmp_path)
        with Ledger(settings, migrate=False) as ledger:
            tid = new_tenant(ledger)
            scope = ledger.tenant(tid)
            scope.execute("INSERT INTO shop.a_orders (id) VALUES (1), (2)")
            scope.execute("INSERT INTO shop.z_lines (id, order_id) VALUES (1, 1), (2, 1), (3, 2)")
            ledger.tenants.archive(tid)
            result = ledger.tenants.purge(tid)
        assert result.deleted == {"shop.z_lines": 3, "shop.a_orders": 2}
        assert list(result.deleted) == ["shop.z_lines", "shop.a_orders"]
    finally:
        drop_database(server_url, url)


class Stop(Exception):
    pass


def test_an_interrupted_purge_resumes_and_an_activation_stops_one(
    ledger: Ledger, database_url: str
) -> None:
    tid = new_tenant(ledger)
    scope = ledger.tenant(tid)
    scope.events.append_many([NewEvent(stream="s", type="E", payload={"i": i}) for i in range(30)])
    ledger.tenants.archive(tid)
    calls = 0

    def stop_after_two(table: str, count: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Stop

    with pytest.raises(Stop):
        ledger.tenants.purge(tid, batch_size=10, progress=stop_after_two)
    assert ledger.tenants.rows(tid) == {"agentledger.events": 10}

    def activate(table: str, count: int) -> None:  # another process, mid-purge
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE agentledger.tenants SET status = 'active' WHERE id = %s", [tid])

    with pytest.raises(IllegalTransition, match="is active"):
        ledger.tenants.purge(tid, batch_size=4, progress=activate)
    assert ledger.tenants.rows(tid) == {"agentledger.events": 6}  # what is left stays
    assert len(scope.events.read_stream("s")) == 6

    ledger.tenants.archive(tid)
    result = ledger.tenants.purge(tid, batch_size=4)
    assert result.deleted == {"agentledger.events": 6} and result.batches == 3


def test_the_cli_shows_what_it_will_delete_and_asks(
    app_sync: Ledger, app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = new_tenant(app_sync)
    app_sync.tenant(tid).events.append("s", "Happened", {"n": 1})
    monkeypatch.setenv("DATABASE_URL", str(app_settings.database_url))
    monkeypatch.setenv("AGENTLEDGER_MIGRATIONS", APP_SPEC)
    runner = CliRunner()
    refused = runner.invoke(cli_module.app, ["tenant", "purge", tid])
    assert refused.exit_code == 1 and "archive it before purging" in refused.output
    app_sync.tenants.archive(tid)
    kept = runner.invoke(cli_module.app, ["tenant", "purge", tid], input="n\n")
    assert kept.exit_code == 1, kept.output
    assert "agentledger.events" in kept.output and "nothing deleted" in kept.output
    assert app_sync.tenants.rows(tid) == {"agentledger.events": 1}
    done = runner.invoke(cli_module.app, ["tenant", "purge", tid, "--yes"])
    assert done.exit_code == 0, done.output
    assert f"purged tenant {tid}: 1 row in 2 batches" in done.output
    with pytest.raises(NotFound):
        app_sync.tenants.get(tid)


def test_the_api_purges_with_the_platform_key(app_sync: Ledger, app_settings: Settings) -> None:
    tid = new_tenant(app_sync)
    writer = app_sync.tenant(tid).keys.create(role="admin")
    app_sync.tenant(tid).events.append("s", "Happened", {"n": 1})
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with serve(create_app(app_settings.with_(admin_key=ADMIN))) as base, client(base) as http:
        assert http.delete(f"/v1/tenants/{tid}", headers=admin).status_code == 409
        tenant_key = {"Authorization": f"Bearer {writer.secret}"}
        assert http.delete(f"/v1/tenants/{tid}", headers=tenant_key).status_code in (401, 403)
        assert http.get("/v1/events", headers=tenant_key).status_code == 200  # key cached
        held = http.get(f"/v1/tenants/{tid}/rows", headers=admin)
        assert held.status_code == 200 and held.json() == app_sync.tenants.rows(tid)
        assert held.json()["agentledger.events"] == 1
        assert http.get(f"/v1/tenants/{tid}/rows", headers=tenant_key).status_code in (401, 403)
        assert http.post(f"/v1/tenants/{tid}/archive", headers=admin).status_code == 200
        answer = http.delete(f"/v1/tenants/{tid}", headers=admin)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["tenant_id"] == tid and body["deleted"]["agentledger.events"] == 1
        assert body["deleted"]["agentledger.api_keys"] == 1
        assert http.delete(f"/v1/tenants/{tid}", headers=admin).status_code == 404
        # At once, not when the key cache expires: the purge forgot the cached keys.
        assert http.get("/v1/events", headers=tenant_key).status_code == 401
