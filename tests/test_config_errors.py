"""Settings errors name what the user set, as spelled; a database URL libpq cannot read or
use is ConfigError naming database_url at open (never an outage, never spooled)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from agentledger import AsyncLedger, Ledger, Settings
from agentledger.db import migrate
from agentledger.db.translate import is_connection_failure, translate
from agentledger.errors import ConfigError, Unavailable

# Nothing listens on port 1; each of these fails in libpq before any connection is tried.
BAD_URLS = [
    "postgresql://postgres@127.0.0.1:notaport/x",
    "postgresql://postgres@127.0.0.1:1/x?sslmode=bogus",
    "postgresql://postgres@127.0.0.1:1/x?target_session_attrs=bogus",
    "postgresql://postgres@127.0.0.1:1/x?gssencmode=bogus",
    "postgresql://postgres@127.0.0.1:99999/x",
    "postgresql://postgres@127.0.0.1:1/x?keepalives=often",
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.upper().startswith("AGENTLEDGER_") or name.upper() == "DATABASE_URL":
            monkeypatch.delenv(name)
    return monkeypatch


def test_a_pool_minimum_above_the_default_maximum_names_both_variables(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("AGENTLEDGER_POOL_MIN_SIZE", "20")
    with pytest.raises(ConfigError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert "AGENTLEDGER_POOL_MIN_SIZE" in message and "= 20" in message
    assert "AGENTLEDGER_POOL_MAX_SIZE" in message and "= 10, the default" in message
    assert refused.value.field == "pool_max_size"
    clean_env.setenv("AGENTLEDGER_POOL_MAX_SIZE", "5")
    with pytest.raises(ConfigError, match=r"= 20 is above .*= 5:"):
        Settings.from_env()


@pytest.mark.parametrize("name", ["DATABASE_URL", "AGENTLEDGER_DATABASE_URL"])
def test_a_bad_database_url_is_named_as_the_environment_spells_it(
    clean_env: pytest.MonkeyPatch, name: str
) -> None:
    clean_env.setenv(name, "mysql://app:s3cret@db/x")
    with pytest.raises(ConfigError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert message.startswith(f"setting database_url ({name}) = 'mysql://app:***@db/x'")
    assert "s3cret" not in message and refused.value.field == "database_url"
    if name == "DATABASE_URL":
        assert "AGENTLEDGER_DATABASE_URL" not in message


def test_a_url_libpq_cannot_parse_is_config_error_at_the_first_connection() -> None:
    for url, needle in (
        ("postgresql://u:pw@db/x?bogus=1", 'invalid URI query parameter: "bogus"'),
        ("postgresql://u:s3cret%zz@db/x", "percent-encoded"),
        ("postgresql://u@db/x?connect_timeout=abc", "connect_timeout"),
    ):
        with pytest.raises(ConfigError, match=needle) as refused:
            migrate.status(url)
        assert refused.value.field == "database_url" and "s3cret" not in str(refused.value)


@pytest.mark.parametrize("url", BAD_URLS)
def test_libpq_refusing_an_option_is_config_error_not_an_outage(url: str) -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(url, connect_timeout=2)
    assert not is_connection_failure(caught.value)
    error = translate(caught.value)
    assert isinstance(error, ConfigError) and error.field == "database_url"
    with pytest.raises(ConfigError) as refused:
        migrate.status(url)
    assert refused.value.field == "database_url"


def test_a_refused_server_is_still_an_outage() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect("postgresql://postgres@127.0.0.1:1/x", connect_timeout=2)
    assert is_connection_failure(caught.value)
    assert isinstance(translate(caught.value), Unavailable)


@pytest.mark.parametrize("url", BAD_URLS[:3])
def test_a_ledger_on_such_a_url_does_not_open_even_with_a_spool(url: str, tmp_path: Path) -> None:
    settings = Settings.build(
        database_url=url, data_dir=tmp_path / "data", pool_timeout=1, retry_attempts=1
    )
    spooling = settings.with_(spool_dir=tmp_path / "spool")
    for each in (settings, spooling):
        with pytest.raises(ConfigError) as refused, Ledger(each):
            pass
        assert refused.value.field == "database_url"
    with pytest.raises(ConfigError), Ledger(settings, migrate=False):
        pass

    async def opened() -> None:
        async with AsyncLedger(spooling):
            pass

    with pytest.raises(ConfigError):
        asyncio.run(opened())
