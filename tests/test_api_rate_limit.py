"""Per-key rate limiting: one key over its budget gets 429 and writes nothing, while other
keys, other tenants and the health probes keep being served."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from agentledger import Ledger, Settings
from agentledger.api import create_app
from agentledger.api.ratelimit import RateLimit
from tests.api_support import ADMIN, tenant_with_keys
from tests.http_server import client, serve

BUDGET = 5  # per minute, counted over a moving window: no test here runs for a minute


@pytest.fixture(scope="module")
def setup_base(settings: Settings) -> Iterator[str]:
    """An unlimited server on the same database, to make tenants and keys with."""
    with serve(create_app(settings.with_(admin_key=ADMIN))) as url:
        yield url


@pytest.fixture(scope="module")
def base(settings: Settings) -> Iterator[str]:
    limited = settings.with_(admin_key=ADMIN, rate_limit=f"{BUDGET}/minute")
    with serve(create_app(limited)) as url:
        yield url


def _tenant(setup_base: str) -> dict[str, object]:
    with client(setup_base, ADMIN) as platform:
        return tenant_with_keys(platform)


def test_a_key_over_its_budget_gets_429_and_writes_nothing(
    base: str, setup_base: str, sync_ledger: Ledger
) -> None:
    t = _tenant(setup_base)
    keys = t["keys"]
    assert isinstance(keys, dict)
    stream = f"s-{uuid.uuid4().hex[:8]}"
    with client(base, keys["writer"]) as c:
        remaining = []
        for n in range(BUDGET):
            r = c.post("/v1/events", json={"stream": stream, "type": "T", "payload": {"n": n}})
            assert r.status_code == 201
            assert r.headers["ratelimit-limit"] == str(BUDGET)
            remaining.append(int(r.headers["ratelimit-remaining"]))
        assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0
        refused = c.post("/v1/events", json={"stream": stream, "type": "T", "payload": {}})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers.get_list("x-request-id") == [refused.json()["request_id"]]
        assert f"{BUDGET} per 1 minute" in refused.json()["detail"]
        assert c.get("/v1/keys").status_code == 429  # reads too: the budget is the key's
    assert sync_ledger.tenant(str(t["id"])).events.stream_version(stream) == BUDGET


def test_other_keys_and_tenants_keep_their_budget(base: str, setup_base: str) -> None:
    a, b = _tenant(setup_base), _tenant(setup_base)
    a_keys, b_keys = a["keys"], b["keys"]
    assert isinstance(a_keys, dict) and isinstance(b_keys, dict)
    with client(base, a_keys["reader"]) as flooding:
        codes = [flooding.get("/v1/events").status_code for _ in range(BUDGET * 3)]
    assert codes[:BUDGET] == [200] * BUDGET and set(codes[BUDGET:]) == {429}
    with client(base, a_keys["writer"]) as same_tenant, client(base, b_keys["reader"]) as other:
        assert same_tenant.get("/v1/events").status_code == 200
        assert other.get("/v1/events").status_code == 200


def test_probes_are_never_limited(base: str) -> None:
    with client(base) as c:
        for _ in range(BUDGET * 3):
            assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        assert "agentledger_http_requests_total" in c.get("/metrics").text


def test_callers_without_a_key_share_their_address_budget(settings: Settings) -> None:
    limited = settings.with_(rate_limit="3/minute")
    with serve(create_app(limited)) as url, httpx.Client(base_url=url) as c:
        codes = [c.get("/v1/events").status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        metrics = c.get("/metrics").text
    assert 'method="GET",route="unmatched",status="429"} 2.0' in metrics


def test_made_up_keys_spend_their_address_budget_and_real_keys_keep_theirs(
    settings: Settings, setup_base: str
) -> None:
    """Each made-up key would be a fresh budget of its own: refused keys are counted
    against their address instead, and once it is spent a new key is answered 429 before
    it is looked up, while a key already accepted keeps being served."""
    keys = _tenant(setup_base)["keys"]
    assert isinstance(keys, dict)
    limited = settings.with_(rate_limit="3/minute")
    with serve(create_app(limited)) as url:
        with client(url, keys["reader"]) as known:
            assert known.get("/v1/events").status_code == 200
            codes = []
            for _ in range(5):
                with client(url, f"al_{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}") as made_up:
                    codes.append(made_up.get("/v1/events").status_code)
            assert codes == [401, 401, 401, 429, 429]
            assert known.get("/v1/events").status_code == 200
            with client(url, keys["writer"]) as new:  # not yet accepted, from the same place
                refused = new.get("/v1/events")
        assert refused.status_code == 429
        assert "refused keys" in refused.json()["detail"]
        with httpx.Client(base_url=url) as c:
            metrics = c.get("/metrics").text
    # The refused made-up keys never reached a route (nor the key lookup).
    assert 'route="unmatched",status="429"} 3.0' in metrics


@pytest.mark.parametrize("bad", ["lots", "5 per fortnight", ""])
def test_a_bad_rate_limit_setting_is_named(settings: Settings, bad: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        Settings(rate_limit=bad)


def test_the_budget_holds_across_the_clocks_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three requests just before a minute turns and one just after are four in two
    milliseconds: the fourth is refused, however the clock's windows fall."""
    now = [1_800_000_000.0 - 0.002]  # a multiple of 60, less two milliseconds
    monkeypatch.setattr("time.time", lambda: now[0])
    statuses: list[int] = []

    async def ok(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def request(limiter: RateLimit) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))

        scope = {"type": "http", "path": "/v1/events", "headers": [], "client": ("10.0.0.1", 1)}
        await limiter(scope, receive, send)

    async def main() -> None:
        limiter = RateLimit(ok, limits="3/minute")
        for _ in range(3):
            await request(limiter)
        now[0] += 0.004
        await request(limiter)

    asyncio.run(main())
    assert statuses == [200, 200, 200, 429]
