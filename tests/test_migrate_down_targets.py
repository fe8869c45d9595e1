"""`migrate --down` checks its target before anything runs: a branch label no revision
carries (a typo Alembic would read as base) and a downgrade that would remove the
foundation revision 0001 (a core branch's label@base) are refused, naming the revision;
an application's branch still goes on its own, and plain base still removes everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

import tests.app_sample.migrations
from agentledger import InvalidInput, cli as cli_module
from agentledger.db import migrate
from tests.conftest import APP_SPEC, clone_database, drop_database

APP = (Path(tests.app_sample.migrations.__path__[0]).resolve(),)


@pytest.fixture
def app_url(server_url: str, template_url: str) -> Iterator[str]:
    """A database of its own at every head, the sample application's too, with a row."""
    url = clone_database(server_url, template_url, "migrate_down_targets")
    migrate.upgrade(url, locations=APP)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO agentledger.tenants (id, name) VALUES ('keep', 'Keep me')")
    yield url
    drop_database(server_url, url)


def _tenants(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM agentledger.tenants")]


@pytest.mark.parametrize("locations", [APP, ()], ids=["app registered", "core only"])
def test_an_unknown_branch_label_is_refused_and_nothing_goes(
    app_url: str, locations: tuple[Path, ...]
) -> None:
    before = migrate.current(app_url)
    for typo in ("app_sampl@base", "myap@base", "myap@-1", "myap@head"):
        with pytest.raises(InvalidInput, match="no branch is labelled") as refused:
            migrate.downgrade(app_url, typo, locations=locations)
        assert refused.value.field == "revision"
        assert typo in str(refused.value) and "memory" in str(refused.value)
    with pytest.raises(InvalidInput, match="app_sample, audit"):
        migrate.downgrade(app_url, "myap@base", locations=APP)
    assert migrate.current(app_url) == before
    assert _tenants(app_url) == ["keep"]


@pytest.mark.parametrize("target", ["langgraph@base", "memory@base", "0001@base"])
def test_a_downgrade_that_would_remove_the_foundation_is_refused(app_url: str, target: str) -> None:
    before = migrate.current(app_url)
    with pytest.raises(InvalidInput, match="foundation revision 0001") as refused:
        migrate.downgrade(app_url, target, locations=APP)
    assert refused.value.field == "revision" and "'base'" in str(refused.value)
    assert migrate.current(app_url) == before
    assert _tenants(app_url) == ["keep"]


def test_a_relative_target_alembic_cannot_resolve_is_invalid_input(app_url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        migrate.downgrade(app_url, "memory_0001@-1", locations=APP)
    assert refused.value.field == "revision"


def test_an_application_branch_still_goes_alone_and_base_still_removes_everything(
    app_url: str,
) -> None:
    migrate.downgrade(app_url, "app_sample@-1", locations=APP)
    assert "app_sample_0001" in migrate.current(app_url)
    migrate.downgrade(app_url, "app_sample@base", locations=APP)
    assert migrate.status(app_url, APP).missing == ("app_sample_0001", "app_sample_0002")
    assert migrate.is_current(app_url) and _tenants(app_url) == ["keep"]
    migrate.downgrade(app_url, "memory_0019", locations=APP)  # an id on a core branch
    assert "memory_0020" in migrate.status(app_url).missing
    migrate.downgrade(app_url, "base", locations=APP)
    assert migrate.current(app_url) == set()


def test_the_cli_refuses_a_typo_in_the_branch(
    app_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", app_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AGENTLEDGER_MIGRATIONS", APP_SPEC)
    runner = CliRunner()
    refused = runner.invoke(cli_module.app, ["migrate", "--down", "app_sampl@base"])
    assert refused.exit_code != 0 and isinstance(refused.exception, InvalidInput)
    assert migrate.current(app_url) == migrate.heads(APP) and _tenants(app_url) == ["keep"]
    done = runner.invoke(cli_module.app, ["migrate", "--down", "app_sample@base"])
    assert done.exit_code == 0, done.output
    assert migrate.is_current(app_url) and _tenants(app_url) == ["keep"]
