"""Console sign-ins live in the database: a browser signed in through one server process is
signed in on every other (behind a load balancer), signing out or revoking the key ends it
everywhere at once, an expired one is refused and cleared, and only hashes are stored."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from agentledger import InvalidInput, Ledger, Settings
from agentledger.api import create_app
from agentledger.console.session import COOKIE
from tests.http_server import serve


@pytest.fixture(scope="module")
def servers(settings: Settings) -> Iterator[tuple[str, str]]:
    """Two servers of the console on one database, as two processes behind a balancer
    would be: each app has its own state, and nothing of the console's is shared."""
    with serve(create_app(settings)) as one, serve(create_app(settings)) as other:
        yield one, other


@pytest.fixture
def tenant(sync_ledger: Ledger) -> tuple[str, str, str]:
    """A fresh tenant: its id, a writer key's secret and that key's id."""
    tid = f"t-{uuid.uuid4().hex[:10]}"
    sync_ledger.tenants.create(tid)
    created = sync_ledger.tenant(tid).keys.create(role="writer")
    return tid, created.secret, str(created.key.id)


def _sign_in(base: str, key: str) -> tuple[str, str]:
    """Sign in at ``base``: the session cookie's value and the page's CSRF token."""
    with httpx.Client(base_url=base, timeout=WAIT) as browser:
        response = browser.post("/console/login", data={"key": key})
        assert response.status_code == 303, response.text
        set_cookie = response.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie, set_cookie
        token = response.cookies[COOKIE]
        page = browser.get("/console/", headers=_cookie(token))
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
        assert csrf is not None
        return token, csrf.group(1)


def _cookie(token: str) -> dict[str, str]:
    """The header a browser holding the sign-in sends (set per request: each server's
    address differs, and a sign-in must hold on any of them)."""
    return {"cookie": f"{COOKIE}={token}"}


def _stored_hash(token: str) -> bytes:
    """What the table keeps of a sign-in's token: the SHA-256 of its random part (the part
    before the ``~`` is the tenant's id)."""
    tenant, _, random = token.partition("~")
    assert tenant and random and '"' not in token
    return hashlib.sha256(random.encode()).digest()


# A loaded machine runs the whole suite beside these two servers: more than httpx's 5 s.
WAIT = 30.0


def _page(base: str, token: str) -> httpx.Response:
    return httpx.get(f"{base}/console/alerts", headers=_cookie(token), timeout=WAIT)


def test_a_sign_in_holds_on_every_server_and_ends_everywhere(
    servers: tuple[str, str], tenant: tuple[str, str, str], sync_ledger: Ledger
) -> None:
    one, other = servers
    tid, key, _ = tenant
    alert = sync_ledger.tenant(tid).alerts.create(2, "disk full")
    token, csrf = _sign_in(one, key)
    assert _page(other, token).status_code == 200
    # A state-changing request on the other server, with the sign-in's CSRF token.
    acted = httpx.post(
        f"{other}/console/alerts/{alert.id}/acknowledge",
        headers={**_cookie(token), "x-csrf-token": csrf, "hx-request": "true"},
        timeout=WAIT,
    )
    assert acted.status_code == 200, acted.text
    assert sync_ledger.tenant(tid).alerts.get(alert.id).status == "acknowledged"
    # Signed out on the other server: the first one no longer knows the browser either.
    out = httpx.post(
        f"{other}/console/logout", headers={**_cookie(token), "x-csrf-token": csrf}, timeout=WAIT
    )
    assert out.status_code == 303
    for base in (one, other):
        response = _page(base, token)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"


def test_revoking_the_key_ends_its_sign_ins_at_once(
    servers: tuple[str, str], tenant: tuple[str, str, str], sync_ledger: Ledger
) -> None:
    one, other = servers
    tid, key, key_id = tenant
    token, _ = _sign_in(one, key)
    assert _page(other, token).status_code == 200
    sync_ledger.tenant(tid).keys.revoke(key_id)
    assert _page(one, token).status_code == 303
    assert _page(other, token).status_code == 303


def test_an_expired_sign_in_is_refused_and_cleared_by_the_next(
    servers: tuple[str, str], tenant: tuple[str, str, str], database_url: str
) -> None:
    one, _ = servers
    _, key, _ = tenant
    token, _ = _sign_in(one, key)
    digest = _stored_hash(token)
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute(
            "UPDATE agentledger.sign_ins SET expires_at = now() - interval '1 second'"
            " WHERE token_hash = %s",
            [digest],
        )
        assert _page(one, token).status_code == 303
        _sign_in(one, key)
        left = owner.execute(
            "SELECT count(*) FROM agentledger.sign_ins WHERE token_hash = %s", [digest]
        ).fetchone()
    assert left == (0,)


def test_only_hashes_of_the_tokens_are_stored(
    servers: tuple[str, str], tenant: tuple[str, str, str], database_url: str
) -> None:
    one, _ = servers
    _, key, key_id = tenant
    token, _ = _sign_in(one, key)
    with psycopg.connect(database_url) as owner:
        rows = owner.execute(
            "SELECT token_hash, tenant_id, csrf FROM agentledger.sign_ins WHERE key_id = %s",
            [key_id],
        ).fetchall()
    assert [bytes(r[0]) for r in rows] == [_stored_hash(token)]
    assert token not in repr(rows)


def test_sign_ins_through_the_library(ledger: Ledger, tenant_id: str) -> None:
    created = ledger.tenant(tenant_id).keys.create(role="reader")
    opened = ledger.tenants.sign_in(created.secret, seconds=60)
    assert opened is not None
    assert (opened.identity.tenant_id, opened.identity.role) == (tenant_id, "reader")
    assert opened.identity.key_id == created.key.id
    found = ledger.tenants.signed_in(opened.token)
    assert found is not None and found.csrf == opened.csrf and found.identity == opened.identity
    assert ledger.tenants.sign_in("al_unknown_key") is None
    assert ledger.tenants.signed_in("not a token") is None
    assert ledger.tenants.signed_in(opened.token[:-1] + "x") is None
    other = ledger.tenants.create(f"t-{uuid.uuid4().hex[:10]}").id
    random = opened.token.partition("~")[2]
    assert ledger.tenants.signed_in(f"{other}~{random}") is None  # its tenant, and no other
    assert ledger.tenants.sign_out(opened.token) is True
    assert ledger.tenants.sign_out(opened.token) is False
    assert ledger.tenants.signed_in(opened.token) is None


@pytest.mark.parametrize("seconds", [0, -5, 31 * 24 * 3600, float("nan"), "60", True])
def test_a_sign_in_s_length_is_checked(ledger: Ledger, tenant_id: str, seconds: Any) -> None:
    created = ledger.tenant(tenant_id).keys.create(role="reader")
    with pytest.raises(InvalidInput) as raised:
        ledger.tenants.sign_in(created.secret, seconds=seconds)
    assert raised.value.field == "seconds"
