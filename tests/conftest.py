"""Fixtures against real PostgreSQL: the embedded server (or DATABASE_URL), one migrated
template database per run, and a fresh clone of it per test module."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from agentledger import AsyncLedger, Ledger, Settings
from agentledger.db import migrate
from agentledger.db.embedded import FAST_OPTIONS, EmbeddedServer
from tests.faces import AsyncFace

pytest_plugins = ["tests.api_fixtures", "tests.nats_fixtures"]
_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests first (otherwise in their order): a worker takes a module
    whole, and a long one handed out last would run on alone while the others idle."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def with_database(url: str, dbname: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def server_dir() -> Path:
    """A directory for a test server, outside pytest's private (0700) temp tree, which the
    unprivileged user PostgreSQL runs as under root could not enter."""
    return Path(tempfile.mkdtemp(prefix="agentledger-test-"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The owner URL of the server under test (its maintenance database)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedServer(server_dir(), options=FAST_OPTIONS)
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(server.data_dir, ignore_errors=True)


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="session")
def template_url(server_url: str) -> Iterator[str]:
    """A database migrated once per run, cloned for each test module."""
    name = f"al_template_{os.getpid()}"
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    migrate.upgrade(url)
    yield url
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def server_has_vector(template_url: str) -> bool:
    """The test server has pgvector (the embedded one does; a DATABASE_URL server may not),
    so the migrations installed it."""
    with psycopg.connect(template_url) as conn:
        row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
    return row is not None


@pytest.fixture(autouse=True)
def _pgvector_marker(request: pytest.FixtureRequest) -> None:
    """A test marked ``pgvector`` is skipped on a server without the extension."""
    marked = request.node.get_closest_marker("pgvector") is not None
    if marked and not request.getfixturevalue("server_has_vector"):
        pytest.skip("the test server has no pgvector")


def clone_database(server_url: str, template_url: str, label: str) -> str:
    name = f"al_{re.sub(r'[^a-z0-9]', '_', label.lower())[-30:]}_{os.getpid()}_{next(_counter)}"
    template = conninfo_to_dict(template_url)["dbname"]
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(str(template))
            )
        )
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = str(conninfo_to_dict(url)["dbname"])
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def database_url(
    server_url: str, template_url: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh migrated database for this test module."""
    url = clone_database(server_url, template_url, request.module.__name__.rsplit(".", 1)[-1])
    yield url
    drop_database(server_url, url)


@pytest.fixture(scope="module")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.build(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        pool_max_size=8,
        retry_backoff=0.05,
    )


@pytest.fixture(scope="session")
def aio() -> Iterator[asyncio.Runner]:
    """One event loop for every async-face test of the run."""
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def sync_ledger(settings: Settings) -> Iterator[Ledger]:
    with Ledger(settings, migrate=False) as ledger:
        yield ledger


@pytest.fixture(scope="module")
def async_ledger(settings: Settings, aio: asyncio.Runner) -> Iterator[AsyncLedger]:
    ledger = AsyncLedger(settings, migrate=False)
    aio.run(ledger.open())
    yield ledger
    aio.run(ledger.close())


@pytest.fixture(params=["sync", "async"])
def ledger(request: pytest.FixtureRequest, aio: asyncio.Runner) -> Ledger:
    """The same behaviour suite on both faces: ``Ledger``, and ``AsyncLedger`` behind a
    proxy that awaits each call; both are typed as the sync face they present."""
    if request.param == "sync":
        face: Ledger = request.getfixturevalue("sync_ledger")
        return face
    return cast(Ledger, AsyncFace(request.getfixturevalue("async_ledger"), aio))


def new_tenant(ledger: Ledger) -> str:
    """A fresh active tenant: its id."""
    tid = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tid, f"Tenant {tid}")
    return tid


@pytest.fixture
def tenant_id(ledger: Ledger) -> str:
    """A fresh active tenant for one test."""
    return new_tenant(ledger)


# The sample application's revisions: a tenant table of its own (``app_sample.notes``).
APP_SPEC = "tests.app_sample.migrations"


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    """The module's database, with the sample application registered."""
    return settings.with_(migrations=(APP_SPEC,), pool_max_size=4)


@pytest.fixture(scope="module")
def app_sync(app_settings: Settings) -> Iterator[Ledger]:
    with Ledger(app_settings) as ledger:  # opening applies the application's revisions
        yield ledger


@pytest.fixture
def app_url(settings: Settings) -> str:
    """Connect as the application role (RLS applies), like the library does."""
    from agentledger.db.connect import app_conninfo

    assert settings.database_url is not None
    return app_conninfo(settings, settings.database_url)


ROOT = Path(__file__).resolve().parents[1]
