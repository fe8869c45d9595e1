"""Fixtures for the HTTP tests: a served app per module and two tenants with keys of every
role (registered as a pytest plugin by conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentledger import Settings
from agentledger.api import create_app
from tests.api_support import ADMIN, tenant_with_keys
from tests.http_server import client, serve


@pytest.fixture(scope="module")
def base(settings: Settings) -> Iterator[str]:
    app = create_app(settings.with_(admin_key=ADMIN))
    app.state.sse_poll = 0.1
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def tenants(base: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    with client(base, ADMIN) as platform:
        yield tenant_with_keys(platform), tenant_with_keys(platform)


def _as(base: str, key: str) -> Iterator[httpx.Client]:
    with client(base, key) as c:
        yield c


@pytest.fixture
def admin(base: str, tenants: Any) -> Iterator[httpx.Client]:
    yield from _as(base, tenants[0]["keys"]["admin"])


@pytest.fixture
def writer(base: str, tenants: Any) -> Iterator[httpx.Client]:
    yield from _as(base, tenants[0]["keys"]["writer"])


@pytest.fixture
def reader(base: str, tenants: Any) -> Iterator[httpx.Client]:
    yield from _as(base, tenants[0]["keys"]["reader"])


@pytest.fixture
def intruder(base: str, tenants: Any) -> Iterator[httpx.Client]:
    """The admin of a second tenant, probing the first tenant's ids."""
    yield from _as(base, tenants[1]["keys"]["admin"])
