"""Tables of the application's own: its revisions registered beside the core's, run after
them, counted as part of "current" by Ledger.open(), /readyz and the CLI, its tenant tables
isolated by row-level security, and its SQL run on the ledger's tenant binding."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rich.console import Console
from typer.testing import CliRunner

import tests.app_sample.migrations
from agentledger import (
    AsyncLedger,
    ConfigError,
    InvalidInput,
    Ledger,
    PermissionDenied,
    Settings,
    TenantInactive,
    cli as cli_module,
)
from agentledger.api import create_app
from agentledger.cli import common
from agentledger.db import migrate
from agentledger.db.app_migrations import ENTRY_POINT_GROUP, registered
from agentledger.migrations import tenant_table_sql
from tests.conftest import APP_SPEC, clone_database, drop_database, new_tenant
from tests.faces import AsyncFace, opened
from tests.http_server import client, serve

SPEC = APP_SPEC
APP = (Path(tests.app_sample.migrations.__path__[0]).resolve(),)
APP_REVISIONS = ("app_sample_0001", "app_sample_0002")
NOTES = "app_sample.notes"


@pytest.fixture
def fresh_url(server_url: str, template_url: str) -> Iterator[str]:
    """A database of its own (the core at its heads), for a test that moves revisions."""
    url = clone_database(server_url, template_url, "app_migrations_fresh")
    yield url
    drop_database(server_url, url)


@pytest.fixture(scope="module")
def app_async(app_settings: Settings, app_sync: Ledger, aio: asyncio.Runner) -> Iterator[Ledger]:
    ledger = AsyncLedger(app_settings, migrate=False)
    aio.run(ledger.open())
    yield AsyncFace(ledger, aio)  # type: ignore[misc]
    aio.run(ledger.close())


@pytest.fixture(params=["sync", "async"])
def app_ledger(request: pytest.FixtureRequest) -> Ledger:
    ledger: Ledger = request.getfixturevalue(f"app_{request.param}")
    return ledger


# Registering the application's folders


def test_migrate_runs_the_core_heads_before_the_application(
    fresh_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The application's base depends only on the foundation, so Alembic alone could run it
    before the core's last revision; migrate runs the core's heads first."""
    migrate.downgrade(fresh_url, "memory_0011")
    caplog.set_level(logging.INFO, logger="alembic.runtime.migration")
    migrate.upgrade(fresh_url, locations=APP)
    ran = [
        match.group(1)
        for record in caplog.records
        if (match := re.match(r"Running upgrade .*-> (\w+)", record.getMessage()))
    ]
    # memory_0012 and the core revisions built on it come back first, then the app's.
    core, app = ran[: -len(APP_REVISIONS)], ran[-len(APP_REVISIONS) :]
    assert "memory_0012" in core and not set(core) & set(APP_REVISIONS)
    assert app == list(APP_REVISIONS)
    assert migrate.current(fresh_url) == migrate.heads(APP)
    assert migrate.status(fresh_url, APP).current
    assert "app_sample_0002" in migrate.heads(APP) and "app_sample_0002" not in migrate.heads()


@pytest.mark.parametrize("face", ["sync", "async"])
def test_open_counts_the_application_revisions_as_part_of_current(
    face: str, fresh_url: str, tmp_path: Path, aio: asyncio.Runner
) -> None:
    core_only = Settings.build(database_url=fresh_url, data_dir=tmp_path, pool_max_size=2)
    with_app = core_only.with_(migrations=(SPEC,))
    with opened(face, with_app, aio, migrate=False) as ledger:
        health = ledger.health()
    assert not health.migrations_current
    assert health.missing_revisions == APP_REVISIONS
    with opened(face, with_app, aio) as ledger:  # open() applies them
        health = ledger.health()
    assert health.migrations_current and health.missing_revisions == ()
    assert migrate.current(fresh_url) >= {"app_sample_0002"}
    # A process that does not register them cannot vouch for the database.
    with (
        pytest.raises(ConfigError, match="app_sample_0002") as refused,
        opened(face, core_only, aio),
    ):
        pass
    assert refused.value.field == "migrations"
    with opened(face, core_only, aio, migrate=False) as ledger:
        health = ledger.health()
    assert not health.migrations_current
    assert health.unknown_revisions == ("app_sample_0002",)


def test_readyz_names_the_missing_revisions_until_they_are_applied(
    fresh_url: str, tmp_path: Path
) -> None:
    settings = Settings.build(
        database_url=fresh_url, data_dir=tmp_path, pool_max_size=2, migrations=(SPEC,)
    )
    with serve(create_app(settings)) as base, client(base) as c:
        ready = c.get("/readyz")  # the server applied them as it started
        assert ready.status_code == 200, ready.text
        assert ready.json()["missing_revisions"] == [] and ready.json()["detail"] is None
        migrate.downgrade(fresh_url, "app_sample_0001", locations=APP)
        behind = c.get("/readyz")
        assert behind.status_code == 503
        assert behind.json()["migrations_current"] is False
        assert behind.json()["missing_revisions"] == ["app_sample_0002"]
        assert "app_sample_0002" in behind.json()["detail"]
        migrate.upgrade(fresh_url, locations=APP)
        assert c.get("/readyz").status_code == 200


def test_a_database_a_newer_agentledger_migrated_is_named_as_such(
    fresh_url: str, tmp_path: Path
) -> None:
    """Rolling back the code after a newer version migrated: the refusal says which
    revisions are a newer agentledger's and how to go back, not to register folders."""
    with psycopg.connect(fresh_url, autocommit=True) as conn:  # a later release's head
        conn.execute("INSERT INTO public.agentledger_version VALUES ('audit_0099')")
    settings = Settings.build(database_url=fresh_url, data_dir=tmp_path, pool_max_size=2)
    with pytest.raises(ConfigError) as refused, Ledger(settings):
        pass
    message = str(refused.value)
    assert "migrated by a newer agentledger (its revisions audit_0099)" in message
    assert "migrate --down" in message and "register" not in message
    with Ledger(settings, migrate=False) as ledger:  # readiness (/readyz) says the same
        health = ledger.health()
    assert not health.migrations_current and health.unknown_revisions == ("audit_0099",)
    assert health.migrations == message


def test_the_application_branch_downgrades_on_its_own(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, locations=APP)
    migrate.downgrade(fresh_url, "app_sample_0001", locations=APP)
    assert _columns(fresh_url) == ["tenant_id", "id", "body", "created_at"]
    migrate.downgrade(fresh_url, "app_sample@base", locations=APP)
    assert _schema_exists(fresh_url) is False
    assert migrate.status(fresh_url, APP).missing == APP_REVISIONS
    assert migrate.is_current(fresh_url)  # the core is untouched
    # Downgrading the core takes the application's revisions that depend on it first.
    migrate.upgrade(fresh_url, locations=APP)
    migrate.downgrade(fresh_url, "base", locations=APP)
    assert migrate.current(fresh_url) == set()
    assert _schema_exists(fresh_url) is False


def test_the_cli_migrates_checks_and_reports_the_application(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGENTLEDGER_MIGRATIONS", SPEC)
    monkeypatch.setattr(common, "out", Console(width=400))
    runner = CliRunner()
    behind = runner.invoke(cli_module.app, ["migrate", "--check"])
    assert behind.exit_code == 1, behind.output
    assert "app_sample_0001, app_sample_0002" in behind.output
    done = runner.invoke(cli_module.app, ["migrate"])
    assert done.exit_code == 0, done.output
    assert "app_sample_0002" in done.output
    assert runner.invoke(cli_module.app, ["migrate", "--check"]).exit_code == 0
    status = runner.invoke(cli_module.app, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert str(APP[0]) in status.output and "migrations: current" in status.output
    down = runner.invoke(cli_module.app, ["migrate", "--down", "app_sample@base"])
    assert down.exit_code == 0, down.output
    status = runner.invoke(cli_module.app, ["db", "status"])
    assert "revisions not applied: app_sample_0001, app_sample_0002" in status.output


def test_offline_sql_runs_the_application_after_the_core() -> None:
    text = migrate.upgrade_sql(locations=APP)
    assert text.index("version_num='audit_0004'") < text.index('CREATE TABLE "app_sample"."notes"')
    assert "VALUES ('app_sample_0001')" in text and "%%" not in text
    assert migrate.upgrade_sql() == migrate.upgrade_sql(locations=())


# Registrations that cannot work are refused, naming the entry


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("tests.app_sample.no_such_folder", "does not import"),
        ("tests.app_sample.migrations.app_sample_0002_pinned", "is a module, not a package"),
        ("./no-such-folder", "is not a directory"),
    ],
)
def test_a_registration_that_cannot_be_resolved_is_a_clear_error(
    spec: str, reason: str, tmp_path: Path
) -> None:
    settings = Settings.build(
        database_url="postgresql://nowhere.invalid/none", data_dir=tmp_path, migrations=[spec]
    )
    with pytest.raises(ConfigError, match=re.escape(reason)) as refused:
        Ledger(settings).open()  # before any connection
    assert spec in refused.value.message and refused.value.field == "migrations"


def test_the_environment_takes_a_comma_list_or_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLEDGER_MIGRATIONS", f" {SPEC}, ./more ,")
    assert Settings.from_env().migrations == (SPEC, "./more")
    monkeypatch.setenv("AGENTLEDGER_MIGRATIONS", '["a,b/c", "myapp.migrations"]')
    assert Settings.from_env().migrations == ("a,b/c", "myapp.migrations")
    monkeypatch.setenv("AGENTLEDGER_MIGRATIONS", '["unclosed')
    with pytest.raises(ConfigError, match="AGENTLEDGER_MIGRATIONS"):
        Settings.from_env()


def test_an_installed_entry_point_registers_a_folder_without_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "app_sample-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: app-sample\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\napp_sample = {SPEC}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registered(Settings.build(data_dir=tmp_path)) == APP
    # Named in the settings too, it counts once.
    assert registered(Settings.build(data_dir=tmp_path, migrations=[str(APP[0])])) == APP
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nbroken = tests.nowhere\n")
    with pytest.raises(ConfigError, match="entry point 'broken' of app-sample"):
        registered(Settings.build(data_dir=tmp_path))


def _revision(folder: Path, revision: str, depends_on: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{revision}_x.py").write_text(
        f"revision = {revision!r}\ndown_revision = None\nbranch_labels = ('x_{revision}',)\n"
        f"depends_on = {depends_on!r}\n\ndef upgrade():\n    pass\n\ndef downgrade():\n    pass\n"
    )


def test_revision_ids_used_twice_or_a_broken_graph_are_refused(tmp_path: Path) -> None:
    _revision(tmp_path / "twice", "tasks_0001", "0001")
    with pytest.raises(ConfigError, match="tasks_0001 is present more than once"):
        migrate.heads([tmp_path / "twice"])
    _revision(tmp_path / "dangling", "x_0001", "nowhere_0001")
    with pytest.raises(ConfigError, match="nowhere_0001"):
        migrate.heads([tmp_path / "dangling"])


# The helper for tenant tables


def test_the_tenant_table_is_isolated_and_granted(app_sync: Ledger, app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        row = conn.execute(
            "SELECT relrowsecurity, relforcerowsecurity,"
            " has_table_privilege(current_user, oid, 'SELECT, INSERT, UPDATE, DELETE'),"
            " has_table_privilege(current_user, oid, 'TRUNCATE'),"
            " (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(i.indkey) WITH ORDINALITY"
            "  AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum)"
            " FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary"
            " WHERE c.oid = 'app_sample.notes'::regclass"
        ).fetchone()
    assert row == (True, True, True, False, ["tenant_id", "id"])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"table": "notes"}, "name its schema"),
        ({"table": "agentledger.notes"}, "schema of its own"),
        ({"table": "app.Notes"}, "not a plain lowercase identifier"),
        ({"table": 'app.n"; DROP TABLE x; --'}, "not a plain lowercase identifier"),
        ({"columns": "tenant_id text, id int"}, "leave it out"),
        ({"columns": "  "}, "column definitions"),
        ({"primary_key": ("tenant_id",)}, "starts with it already"),
        ({"primary_key": "id) ; DROP"}, "not a plain lowercase identifier"),
        ({"privileges": ["TRUNCATE"]}, "not one of"),
        ({"privileges": []}, "privileges is empty"),
    ],
)
def test_the_helper_refuses_what_is_not_a_plain_name(
    kwargs: dict[str, object], reason: str
) -> None:
    args: dict[str, object] = {"table": "app.notes", "columns": "id int NOT NULL", **kwargs}
    with pytest.raises(ValueError, match=re.escape(reason)):
        tenant_table_sql(role="agentledger_app", **args)  # type: ignore[arg-type]


# The application's SQL on the ledger's tenant binding


def test_each_tenant_sees_and_changes_only_its_own_rows(app_ledger: Ledger) -> None:
    a, b = new_tenant(app_ledger), new_tenant(app_ledger)
    with app_ledger.tenant(a).transaction() as tx:
        added = tx.execute(
            f"INSERT INTO {NOTES} (id, body) VALUES (%(id)s, %(body)s), (%(id)s + 1, '50%% off')",
            {"id": 1, "body": "first"},
        )
        assert added == 2
        assert tx.fetch_value(f"SELECT count(*) FROM {NOTES}") == 2  # within the transaction
    mine = app_ledger.tenant(a).fetch(f"SELECT tenant_id, id, body FROM {NOTES} ORDER BY id")
    assert mine == [
        {"tenant_id": a, "id": 1, "body": "first"},
        {"tenant_id": a, "id": 2, "body": "50% off"},
    ]
    theirs = app_ledger.tenant(b)
    assert theirs.fetch(f"SELECT * FROM {NOTES}") == []
    assert theirs.fetch_one(f"SELECT * FROM {NOTES} WHERE id = %(id)s", {"id": 1}) is None
    assert theirs.execute(f"UPDATE {NOTES} SET body = 'taken'") == 0
    assert theirs.execute(f"DELETE FROM {NOTES}") == 0
    with pytest.raises(PermissionDenied, match="row-level security"):
        theirs.execute(
            f"INSERT INTO {NOTES} (tenant_id, id, body) VALUES (%(t)s, 9, 'forged')", {"t": a}
        )
    assert app_ledger.tenant(a).fetch_value(f"SELECT count(*) FROM {NOTES}") == 2


def test_raw_queries_as_the_app_role_are_held_by_the_policy(
    app_ledger: Ledger, app_url: str
) -> None:
    a, b = new_tenant(app_ledger), new_tenant(app_ledger)
    app_ledger.tenant(a).execute(f"INSERT INTO {NOTES} (id, body) VALUES (1, 'a')")
    with psycopg.connect(app_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {NOTES}").fetchone() == (0,)  # unbound
        conn.execute("SELECT agentledger.bind_tenant(%s)", (b,))
        assert conn.execute(f"SELECT count(*) FROM {NOTES}").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"INSERT INTO {NOTES} (tenant_id, id, body) VALUES (%s, 5, 'x')", (a,))
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", (a,))
        assert conn.execute(f"SELECT count(*) FROM {NOTES}").fetchone() == (1,)


def test_bad_statement_input_is_refused_and_nothing_is_written(app_ledger: Ledger) -> None:
    tid = new_tenant(app_ledger)
    scope = app_ledger.tenant(tid)
    with pytest.raises(InvalidInput) as refused, scope.transaction() as tx:
        tx.execute(f"INSERT INTO {NOTES} (id, body) VALUES (1, 'kept?')")
        tx.fetch("  ")
    assert refused.value.field == "sql"
    with pytest.raises(InvalidInput) as refused:
        scope.execute(f"INSERT INTO {NOTES} (id, body) VALUES (%s, 'x')", [1])  # type: ignore[arg-type]
    assert refused.value.field == "params"
    with pytest.raises(InvalidInput, match="notes_body_length"):
        scope.execute(f"INSERT INTO {NOTES} (id, body) VALUES (2, repeat('x', 10001))")
    assert scope.fetch_value(f"SELECT count(*) FROM {NOTES}") == 0


def test_a_suspended_tenant_reads_its_rows_but_cannot_write(app_ledger: Ledger) -> None:
    tid = new_tenant(app_ledger)
    app_ledger.tenant(tid).execute(f"INSERT INTO {NOTES} (id, body) VALUES (1, 'before')")
    app_ledger.tenants.suspend(tid)
    scope = app_ledger.tenant(tid)
    assert scope.fetch_value(f"SELECT body FROM {NOTES}") == "before"
    with pytest.raises(TenantInactive):
        scope.execute(f"INSERT INTO {NOTES} (id, body) VALUES (2, 'after')")


def _columns(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'app_sample.notes'::regclass"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
    return [str(row[0]) for row in rows]


def _schema_exists(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regnamespace('app_sample') IS NOT NULL").fetchone()
    assert row is not None
    return bool(row[0])
