"""Migrations: upgrade from empty matches schema.sql, each downgrade undoes its upgrade,
round trips, offline SQL, concurrent runs, and revisions that stand on their own."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from agentledger import InvalidInput
from agentledger.db import migrate, schema
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE
from agentledger.memory import keys
from tests.conftest import drop_database, with_database

VERSIONS = Path(migrate.__file__).with_name("migrations") / "versions"


@pytest.fixture
def empty_url(server_url: str) -> Iterator[str]:
    url = _create_database(server_url)
    yield url
    drop_database(server_url, url)


def _create_database(server_url: str) -> str:
    name = f"al_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    return with_database(server_url, name)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'agentledger'"
        ).fetchall()
    return {str(row[0]) for row in rows}


def _dump(url: str) -> str:
    """The normalized schema, or a skip saying why this server cannot produce a comparable
    one (a PostgreSQL major version other than the embedded pg_dump's)."""
    try:
        return schema.dump(url)
    except schema.Incomparable as exc:
        pytest.skip(str(exc))


def _assert_same(before: str, after: str, what: str) -> None:
    """Two dumps from this server agree (the failure shows their diff)."""
    difference = schema.diff(before, after)
    if difference:
        pytest.fail(f"{what}:\n{difference}", pytrace=False)


def test_upgrade_from_empty_reaches_heads(empty_url: str) -> None:
    assert migrate.current(empty_url) == set()
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.heads()
    assert migrate.is_current(empty_url)
    assert {"tenants", "api_keys"} <= _tables(empty_url)


def test_upgrade_from_empty_matches_schema_sql(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    try:
        difference = schema.compare(schema.SCHEMA_SQL.read_text(), _dump(empty_url))
    except schema.Incomparable as exc:
        pytest.skip(str(exc))
    if difference:
        pytest.fail(
            "schema.sql disagrees with the migrations (if the change is meant, regenerate it:"
            f" python scripts/schema.py):\n{difference}",
            pytrace=False,
        )


def test_downgrade_to_base_and_back_round_trips(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    before = _dump(empty_url)
    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) == set()
    assert "agentledger." not in _dump(empty_url)
    migrate.upgrade(empty_url)
    _assert_same(before, _dump(empty_url), "the schema after downgrade and upgrade differs")


@pytest.mark.slow
def test_every_downgrade_undoes_its_upgrade(server_url: str) -> None:
    """Step by step along each branch (one database per branch, so that stepping back from
    a branch's first revision leaves the other branches alone): each revision's downgrade
    restores the schema as it was before its upgrade. Stepping back to base alone would
    not show it: the foundation's downgrade drops the whole schema (and leaves the
    server's extensions installed, which the round trip through base covers)."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    checked = {"0001"}
    for head in sorted(migrate.heads()):
        url = _create_database(server_url)
        try:
            for revision in reversed(list(script.iterate_revisions(head, "base"))):
                if revision.revision in checked:  # on an earlier branch's way
                    migrate.upgrade(url, revision.revision)
                    continue
                before = _dump(url)
                migrate.upgrade(url, revision.revision)
                # One step back from this revision alone, whatever else is applied (a merge
                # steps back to one of its parents, which leaves the other).
                down = revision.down_revision
                back = down[0] if isinstance(down, tuple) else f"{revision.revision}@-1"
                migrate.downgrade(url, back)
                _assert_same(before, _dump(url), f"{revision.revision}'s downgrade")
                migrate.upgrade(url, revision.revision)
                checked.add(revision.revision)
        finally:
            drop_database(server_url, url)
    assert checked == {r.revision for r in script.walk_revisions()}


def test_two_concurrent_upgrades_are_safe(empty_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(empty_url)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert migrate.is_current(empty_url)


def test_a_revision_that_cannot_be_found_is_refused_by_name(empty_url: str) -> None:
    # A typo in --revision is the caller's input: InvalidInput naming it, nothing applied,
    # and from the CLI one error line (no Alembic traceback).
    for call in (
        lambda: migrate.upgrade(empty_url, "no_such_rev"),
        lambda: migrate.upgrade(empty_url, ""),
        lambda: migrate.downgrade(empty_url, "no_such_rev"),
        lambda: migrate.upgrade_sql("no_such_rev"),
    ):
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.field == "revision"
    assert migrate.current(empty_url) == set()
    done = subprocess.run(
        [sys.executable, "-m", "agentledger.cli", "migrate", "--revision", "no_such_rev"],
        env={**os.environ, "DATABASE_URL": empty_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and done.stderr.startswith("error: revision 'no_such_rev'")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_offline_sql_covers_every_revision() -> None:
    text = migrate.upgrade_sql()
    assert "CREATE TABLE agentledger.tenants" in text
    assert "CREATE POLICY tenant_isolation ON agentledger.api_keys" in text
    assert "%%" not in text


def test_replacing_a_function_in_place_downgrades_to_the_previous_body(empty_url: str) -> None:
    """memory_0006 replaces memory_fuzzy_v1 in place; stepping back restores memory_0004's
    body, and the app role can run it in neither (it is for the definer functions only)."""

    def fuzzy() -> tuple[str, bool]:
        with psycopg.connect(empty_url) as conn:
            row = conn.execute(
                "SELECT prosrc, has_function_privilege(%s, p.oid, 'EXECUTE')"
                " FROM pg_proc p WHERE proname = 'memory_fuzzy_v1'",
                [DEFAULT_APP_ROLE],
            ).fetchone()
        assert row is not None
        return row[0], row[1]

    migrate.upgrade(empty_url)
    body, executable = fuzzy()
    assert "gin_fuzzy_search_limit" in body and not executable
    migrate.downgrade(empty_url, "memory_0005")
    body, executable = fuzzy()
    assert "gin_fuzzy_search_limit" not in body and "p_cap * 4" in body and not executable
    migrate.upgrade(empty_url)
    assert "gin_fuzzy_search_limit" in fuzzy()[0]


def test_fair_claim_versions_step_down_one_by_one(empty_url: str) -> None:
    """tasks_0002, tasks_0004 and tasks_0006 each add a claim_tasks_fair version beside the
    earlier ones; a downgrade drops only its own (and tasks_0004's puts the status-named
    indexes back)."""

    def fair_claims() -> list[str]:
        with psycopg.connect(empty_url) as conn:
            rows = conn.execute(
                "SELECT proname FROM pg_proc WHERE proname LIKE 'claim_tasks_fair_v%' "
                "ORDER BY proname"
            ).fetchall()
        return [row[0] for row in rows]

    def index(name: str) -> str | None:
        with psycopg.connect(empty_url) as conn:
            row = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'agentledger' "
                "AND indexname = %s",
                (name,),
            ).fetchone()
        return None if row is None else str(row[0])

    every = ["claim_tasks_fair_v1", "claim_tasks_fair_v2", "claim_tasks_fair_v3"]
    migrate.upgrade(empty_url)
    assert fair_claims() == [*every, "claim_tasks_fair_v4"]
    migrate.downgrade(empty_url, "tasks_0005")
    assert fair_claims() == every
    assert "finished_at IS NULL" in (index("tasks_ready") or "")
    assert index("tasks_leases") is None
    migrate.downgrade(empty_url, "tasks_0003")
    assert fair_claims() == ["claim_tasks_fair_v1", "claim_tasks_fair_v2"]
    assert "status = 'pending'" in (index("tasks_ready") or "")
    assert index("tasks_leases") is not None
    migrate.downgrade(empty_url, "tasks_0001")
    assert "tasks_0001" in migrate.current(empty_url)
    assert fair_claims() == ["claim_tasks_fair_v1"]
    migrate.upgrade(empty_url)
    assert fair_claims() == [*every, "claim_tasks_fair_v4"]
    assert migrate.is_current(empty_url)


def test_schema_sql_is_compared_only_with_a_like_server() -> None:
    """A dump from another major version, or with other optional extensions, is refused
    with the reason instead of a diff of differences the migrations did not make."""
    expected = schema.SCHEMA_SQL.read_text()
    assert schema.compare(expected, expected) == ""
    other_major = expected.replace("as PostgreSQL 18 dumps it", "as PostgreSQL 17 dumps it")
    with pytest.raises(schema.Incomparable, match="runs 17"):
        schema.compare(expected, other_major)
    without_vector = expected.replace("CREATE EXTENSION IF NOT EXISTS vector", "")
    with pytest.raises(schema.Incomparable, match=r"\['pg_trgm'\]"):
        schema.compare(expected, without_vector)


# What a revision may import: alembic's op, the shared helpers and the standard library
# (a data change may compute in Python), never another revision nor the library's code.
REVISION_IMPORTS = {"alembic", "agentledger.db.migrations.helpers"}


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("[!_]*.py")), ids=lambda p: p.name)
def test_a_revision_stands_on_its_own(path: Path) -> None:
    """Each revision holds the full text of what it creates (no revision reads another's,
    so editing one never changes another) and lives in a file named by its id."""
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute | ast.Name):
            name = node.attr if isinstance(node, ast.Attribute) else node.id
            assert name not in {"import_module", "__import__"}, f"{path.name}:{node.lineno}"
    foreign = {
        m for m in imported - REVISION_IMPORTS if m.split(".")[0] not in sys.stdlib_module_names
    }
    assert not foreign, f"{path.name} imports {foreign}"
    revision = next(
        str(node.value.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["revision"]
        and isinstance(node.value, ast.Constant)
    )
    assert path.name.startswith(f"{revision}_"), f"{path.name} holds revision {revision}"


def test_name_keys_stored_before_memory_0019_are_refolded(empty_url: str) -> None:
    """An entity keyed by name before memory_0019 takes the key the library now computes;
    where two take the same one the oldest gets it, and a key already held stays held."""

    def legacy(name: str) -> str:  # the by-name key before memory_0019
        return json.dumps(["name", "person", " ".join(name.split()).casefold()])

    names = {
        "composed": "José",  # NFC: its key does not change
        "combining": "Jose\u0301",  # the same text decomposed: its new key is held
        "wide": "ＡＢＣ",
        "wide again": "ＡbＣ",  # the same new key as "wide", written later
        "ascii": "Ada  Lovelace",
    }
    migrate.upgrade(empty_url, "memory_0018")
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute("INSERT INTO agentledger.tenants (id, name) VALUES ('t', 't')")
        for i, (label, name) in enumerate(names.items()):
            conn.execute(
                "INSERT INTO agentledger.memory_entities (tenant_id, kind, name, dedup_key, "
                "created_at) VALUES ('t', 'person', %s, %s, now() + %s * interval '1 s')",
                (label, legacy(name), i),
            )
    migrate.upgrade(empty_url)
    with psycopg.connect(empty_url) as conn:
        rows = conn.execute("SELECT name, dedup_key FROM agentledger.memory_entities").fetchall()
    stored: dict[str, str] = dict(rows)
    assert stored["composed"] == keys.name_dedup("person", "José") == legacy("José")
    assert stored["combining"] == legacy("Jose\u0301") != keys.name_dedup("person", "Jose\u0301")
    assert stored["wide"] == keys.name_dedup("person", "ＡＢＣ") == keys.name_dedup("person", "abc")
    assert stored["wide again"] == legacy("ＡbＣ")
    assert stored["ascii"] == keys.name_dedup("person", "Ada  Lovelace") == legacy("Ada Lovelace")
