"""Per-key request rate limiting, as plain ASGI middleware in front of the routes.

A caller is its API key (the bearer secret, hashed) or, without one, its address; each
caller has its own budget, so one tenant's flood is answered 429 before it reaches the
database while every other key keeps its full rate. A key is read from its header as
authentication reads it (api/auth.py), and is a caller of its own only once authentication
has accepted it: until then its requests also need room in its address's budget of
refused keys, which each 401 spends, so a flood of made-up keys (each a fresh budget
otherwise) is answered 429 before any of them is looked up. Counting uses the ``limits``
package's moving window in the process's memory: a key gets at most N requests in any
period of the limit's length, wherever the clock's minute falls, and each ``agentledger
serve`` process allows a key the whole rate.
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from agentledger.api.auth import KEY_ACCEPTED, bearer_secret
from agentledger.api.middleware import send_problem
from agentledger.config import rate_limits

# Probes and scrapes are never limited: an orchestrator must see a flooded server's health.
EXEMPT = ("/healthz", "/readyz", "/metrics")
# How many accepted keys a process remembers (past it, it starts again, and each key proves
# itself once more).
MAX_ACCEPTED = 100_000


def parse_limits(text: str) -> list[RateLimitItem]:
    """``"100/second;2000/minute"`` as limit items; ValueError names what is wrong (see
    :func:`agentledger.config.rate_limits`)."""
    return rate_limits(text)


class RateLimit:
    """Answers 429 (problem+json, ``Retry-After``) once a caller is over any of its limits;
    every limited answer carries ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset``."""

    def __init__(self, app: ASGIApp, *, limits: str) -> None:
        self.app = app
        self.items = parse_limits(limits)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.accepted: set[str] = set()  # keys authentication accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        refused = "refused:" + _address(scope)
        unproven = key is not None and key not in self.accepted
        if unproven:
            for item in self.items:
                if not await self.limiter.test(item, refused):
                    stats = await self.limiter.get_window_stats(item, refused)
                    await _too_many(send, scope, item, stats.reset_time, "refused keys from here")
                    return
        caller = key or _address(scope)
        tightest: tuple[RateLimitItem, float, int] | None = None
        for item in self.items:
            allowed = await self.limiter.hit(item, caller)
            stats = await self.limiter.get_window_stats(item, caller)
            if tightest is None or stats.remaining < tightest[2]:
                tightest = (item, stats.reset_time, stats.remaining)
            if not allowed:
                whose = "this address" if key is None else "this key"
                await _too_many(send, scope, item, stats.reset_time, whose)
                return
        assert tightest is not None
        item, reset, remaining = tightest
        headers = _headers(item, reset, remaining)

        state = scope.setdefault("state", {})  # where authentication notes an accepted key

        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                if key is not None:
                    await self._judge(key, refused, message["status"], state.get(KEY_ACCEPTED))
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *headers]  # type: ignore[misc]
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]

    async def _judge(self, key: str, refused: str, status: object, accepted: object) -> None:
        """Remember a key authentication accepted (a route that asks for none, a 404, proves
        nothing); a refused one (401) spends its address's budget of refused keys, and is
        forgotten if it was accepted before (revoked since)."""
        if status == 401:
            self.accepted.discard(key)
            for item in self.items:
                await self.limiter.hit(item, refused)
        elif accepted and key not in self.accepted:
            if len(self.accepted) >= MAX_ACCEPTED:
                self.accepted.clear()
            self.accepted.add(key)


def _key(scope: Scope) -> str | None:
    """The digest (never the secret itself) of the key the request presents, read as
    authentication reads it (so each key is one caller, however its header is spelled), or
    None without one: a malformed header is refused as keyless, and counted by address."""
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            secret = bearer_secret(value.decode("latin-1"))
            if secret is not None:
                return "key:" + hashlib.sha256(secret.encode()).hexdigest()[:32]
            return None
    return None


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


def _headers(item: RateLimitItem, reset: float, remaining: int) -> list[tuple[bytes, bytes]]:
    seconds = max(0, math.ceil(reset - time.time()))
    return [
        (b"ratelimit-limit", str(item.amount).encode()),
        (b"ratelimit-remaining", str(max(0, remaining)).encode()),
        (b"ratelimit-reset", str(seconds).encode()),
    ]


async def _too_many(
    send: Send, scope: Scope, item: RateLimitItem, reset: float, whose: str
) -> None:
    retry = max(1, math.ceil(reset - time.time()))
    await send_problem(
        send,
        429,
        "rate-limited",
        "Too many requests.",
        f"the limit of {whose} is {item}; retry after {retry} s",
        str(scope.get("state", {}).get("request_id", "")),
        [(b"retry-after", str(retry).encode()), *_headers(item, reset, 0)],
    )
