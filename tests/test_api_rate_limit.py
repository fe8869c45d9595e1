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
from agentledger.api.auth import bearer_secret
from agentledger.api.ratelimit import RateLimit, _key
from agentledger.errors import ConfigError
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


@pytest.mark.parametrize("pad", [b"\xa0", b"\x85"])
def test_a_key_padded_with_other_whitespace_is_no_fresh_budget(
    base: str, setup_base: str, pad: bytes
) -> None:
    """A key followed by non-ASCII whitespace (a no-break space, NEL) is no other caller
    with a budget of its own: it is refused as malformed (401) and counted by address."""
    keys = _tenant(setup_base)["keys"]
    assert isinstance(keys, dict)
    key = str(keys["reader"]).encode()

    def get(suffix: bytes) -> int:
        header = [(b"authorization", b"Bearer " + key + suffix)]
        return httpx.get(f"{base}/v1/decisions", headers=header, timeout=30).status_code

    assert [get(b"") for _ in range(BUDGET + 1)] == [200] * BUDGET + [429]
    padded = [get(pad * n) for n in range(1, 3 * BUDGET)]
    assert set(padded) <= {401, 429} and padded[-1] == 429, padded


def test_only_ascii_spaces_and_tabs_around_a_key_are_dropped(setup_base: str) -> None:
    keys = _tenant(setup_base)["keys"]
    assert isinstance(keys, dict)
    key = str(keys["reader"]).encode()
    for header, status in [
        (b"Bearer " + key, 200),
        (b"bearer  \t " + key, 200),
        (b"Bearer " + key + b"\xa0", 401),
        (b"Bearer \x85" + key, 401),
        (b"Bearer " + key[:4] + b"\xa0" + key[4:], 401),
    ]:
        r = httpx.get(f"{setup_base}/v1/decisions", headers=[(b"authorization", header)])
        assert r.status_code == status, (header, r.text)
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        ("Bearer al_k", "al_k"),
        ("BEARER \tal_k\t ", "al_k"),
        ("Bearer al_k\xa0", None),
        ("Bearer al_k\x85", None),
        ("Bearer al_\x01k", None),
        ("Bearer al k", None),
        ("Bearer \u2003al_k", None),
        ("Bearer ", None),
        ("Basic al_k", None),
    ],
)
def test_the_limiter_reads_a_key_as_authentication_does(header: str, secret: str | None) -> None:
    assert bearer_secret(header) == secret
    scope = {"headers": [(b"authorization", header.encode("utf-8"))]}
    assert (_key(scope) is None) is (secret is None)
    if secret is not None:
        plain = {"headers": [(b"authorization", f"Bearer {secret}".encode())]}
        assert _key(scope) == _key(plain)


def test_a_key_is_accepted_only_by_authentication(settings: Settings) -> None:
    """A made-up key sent first to a route that asks for no key (a 404) is not thereby a
    caller of its own: its refusals still spend its address's budget of refused keys."""
    made_up = [f"al_{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}" for _ in range(6)]
    with serve(create_app(settings.with_(rate_limit="3/minute"))) as url:
        for key in made_up:
            with client(url, key) as c:
                assert c.get("/v1/no-such-route").status_code == 404
        codes = []
        for key in made_up:
            with client(url, key) as c:
                codes.append(c.get("/v1/events").status_code)
    assert codes == [401, 401, 401, 429, 429, 429]


def test_wrong_platform_admin_keys_are_401_and_spend_the_refused_budget(
    settings: Settings, setup_base: str
) -> None:
    """Guessing the platform admin key is refusal like any made-up key: 401, counted, and
    answered 429 once the address's budget of refused keys is spent. A live tenant key on
    a platform route is 403."""
    keys = _tenant(setup_base)["keys"]
    assert isinstance(keys, dict)
    limited = settings.with_(admin_key=ADMIN, rate_limit=f"{BUDGET}/minute")
    with serve(create_app(limited)) as url:
        with client(url, ADMIN) as platform:
            assert platform.get("/v1/tenants").status_code == 200
        with client(url, keys["reader"]) as tenant_key:
            refused = tenant_key.get("/v1/tenants")
            assert refused.status_code == 403, refused.text
        codes, first = [], None
        for _ in range(12):
            with client(url, f"guess-{uuid.uuid4().hex}") as guess:
                answer = guess.get("/v1/tenants")
                first = first or answer
                codes.append(answer.status_code)
        with client(url, ADMIN) as platform:  # the admin key, accepted before, keeps its own
            assert platform.get("/v1/tenants").status_code == 200
    assert first is not None and first.status_code == 401
    assert first.headers["www-authenticate"] == "Bearer"
    assert codes == [401] * BUDGET + [429] * (12 - BUDGET), codes


@pytest.mark.parametrize("bad", ["0/second", "5/second;0/minute", "1/0 seconds", "3 per 0 hour"])
def test_a_rate_limit_allowing_nothing_is_refused_at_settings_time(bad: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.build(rate_limit=bad)
    assert "AGENTLEDGER_RATE_LIMIT" in str(refused.value) and repr(bad) in str(refused.value)
    assert refused.value.field == "rate_limit"
    with pytest.raises(ValueError, match="must be 1 or more"):
        RateLimit(ok_app, limits=bad)


@pytest.mark.parametrize("good", ["1/second", "100/second;3000/minute", "5 per 2 hours"])
def test_a_sensible_rate_limit_is_accepted(good: str) -> None:
    assert Settings.build(rate_limit=good).rate_limit == good


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
