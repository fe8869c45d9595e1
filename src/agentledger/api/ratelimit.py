"""Per-key request rate limiting, as plain ASGI middleware in front of the routes.

A caller is its API key (the bearer secret, hashed) or, without one, its address; each
caller has its own budget, so one tenant's flood is answered 429 before it reaches the
database while every other key keeps its full rate. A key is a caller of its own only once
it has been accepted: until then its requests also need room in its address's budget of
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

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from agentledger.api.middleware import send_problem

# Probes and scrapes are never limited: an orchestrator must see a flooded server's health.
EXEMPT = ("/healthz", "/readyz", "/metrics")
# How many accepted keys a process remembers (past it, it starts again, and each key proves
# itself once more).
MAX_ACCEPTED = 100_000


def parse_limits(text: str) -> list[RateLimitItem]:
    """``"100/second;2000/minute"`` as limit items; ValueError names what didn't parse."""
    items = parse_many(text)
    if not items:
        raise ValueError(f"no rate limit in {text!r}")
    return items


class RateLimit:
    """Answers 429 (problem+json, ``Retry-After``) once a caller is over any of its limits;
    every limited answer carries ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset``."""

    def __init__(self, app: ASGIApp, *, limits: str) -> None:
        self.app = app
        self.items = parse_limits(limits)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.accepted: set[str] = set()  # keys the app did not refuse (401)

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

        async def send_with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                if key is not None:
                    await self._judge(key, refused, message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *headers]  # type: ignore[misc]
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]

    async def _judge(self, key: str, refused: str, status: object) -> None:
        """Remember a key the app accepted; a refused one (401) spends its address's budget
        of refused keys, and is forgotten if it was accepted before (revoked since)."""
        if status == 401:
            self.accepted.discard(key)
            for item in self.items:
                await self.limiter.hit(item, refused)
        elif key not in self.accepted:
            if len(self.accepted) >= MAX_ACCEPTED:
                self.accepted.clear()
            self.accepted.add(key)


def _key(scope: Scope) -> str | None:
    """The bearer secret's digest (never the secret itself), or None without one."""
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, secret = value.partition(b" ")
            if scheme.lower() == b"bearer" and secret.strip():
                return "key:" + hashlib.sha256(secret.strip()).hexdigest()[:32]
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
