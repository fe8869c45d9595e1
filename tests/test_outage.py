"""Failures by really stopping the server: retries survive a restart, Unavailable otherwise."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from agentledger import AsyncLedger, ConfigError, Ledger, Settings, Unavailable
from agentledger.db import migrate
from agentledger.db.embedded import EmbeddedServer
from tests.conftest import server_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedServer]:
    """A server of our own, so stopping it does not disturb the rest of the suite."""
    server = EmbeddedServer(server_dir())  # durable: we crash it
    server.start()
    migrate.upgrade(server.url())
    yield server
    server.stop(mode="immediate")
    shutil.rmtree(server.data_dir, ignore_errors=True)


def _settings(server: EmbeddedServer, tmp: Path, **kw: object) -> Settings:
    return Settings.build(
        database_url=server.url(), data_dir=tmp, pool_timeout=1.0, connect_timeout=2, **kw
    )


def test_operation_retries_until_the_server_is_back(
    own_server: EmbeddedServer, tmp_path: Path
) -> None:
    settings = _settings(own_server, tmp_path, retry_attempts=8, retry_backoff=0.3)
    with Ledger(settings, migrate=False) as ledger:
        tid = f"o-{uuid.uuid4().hex[:8]}"
        ledger.tenants.create(tid)
        own_server.stop(mode="immediate")
        restarter = threading.Timer(1.0, own_server.start)
        restarter.start()
        try:
            started = time.monotonic()
            key = ledger.tenant(tid).keys.create(role="reader")
            assert time.monotonic() - started >= 0.5  # it really waited for the restart
        finally:
            restarter.join()
        assert [k.id for k in ledger.tenant(tid).keys.list()] == [key.key.id]


def test_async_face_retries_too(own_server: EmbeddedServer, tmp_path: Path) -> None:
    import asyncio

    async def scenario() -> int:
        settings = _settings(own_server, tmp_path, retry_attempts=8, retry_backoff=0.3)
        async with AsyncLedger(settings, migrate=False) as ledger:
            tid = f"o-{uuid.uuid4().hex[:8]}"
            await ledger.tenants.create(tid)
            own_server.stop(mode="immediate")
            loop = asyncio.get_running_loop()

            def restart_soon() -> None:
                time.sleep(1.0)
                own_server.start()

            restart = loop.run_in_executor(None, restart_soon)
            await ledger.tenant(tid).keys.create(role="reader")
            await restart
            return len(await ledger.tenant(tid).keys.list())

    assert asyncio.run(scenario()) == 1


def test_server_down_raises_unavailable_after_bounded_retries(
    own_server: EmbeddedServer, tmp_path: Path
) -> None:
    settings = _settings(own_server, tmp_path, retry_attempts=2, retry_backoff=0.05)
    with Ledger(settings, migrate=False) as ledger:
        tid = f"o-{uuid.uuid4().hex[:8]}"
        ledger.tenants.create(tid)
        own_server.stop(mode="immediate")
        try:
            started = time.monotonic()
            with pytest.raises(Unavailable):
                ledger.tenant(tid).keys.list()
            elapsed = time.monotonic() - started
        finally:
            own_server.start()
        assert elapsed < 30  # bounded, not a hang
        assert ledger.tenant(tid).keys.list() == []


def test_only_connection_failures_count_as_retryable(own_server: EmbeddedServer) -> None:
    from agentledger.db.translate import is_connection_failure

    with psycopg.connect(own_server.url(), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.UniqueViolation) as unique:
            conn.execute("INSERT INTO t VALUES (1)")
    assert not is_connection_failure(unique.value)
    port = own_server.status().port
    own_server.stop(mode="immediate")
    try:
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2)
    finally:
        own_server.start()
    assert is_connection_failure(refused.value)


def test_a_ledger_opening_on_a_server_that_is_down_or_a_bad_url_says_which(
    tmp_path: Path,
) -> None:
    """The migration check opens the first connection: it answers as every operation does,
    Unavailable for a server it cannot reach, ConfigError for a URL libpq cannot read."""
    down = Settings.build(
        database_url="postgresql://u@127.0.0.1:1/db", data_dir=tmp_path, connect_timeout=1
    )
    with pytest.raises(Unavailable), Ledger(down):
        pass
    for url in ("postgresql://[::1", "postgresql://u@127.0.0.1:1/db?foo=bar"):
        with pytest.raises(ConfigError) as refused, Ledger(down.with_(database_url=url)):
            pass
        assert refused.value.field == "database_url"
