"""Request ids, the body size limit, security headers and request metrics, as plain ASGI
middleware."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("agentledger.api")
# On every answer: a browser takes its content type as given (an artifact streamed as
# text/plain is never sniffed into HTML).
EVERY_ANSWER = [(b"x-content-type-options", b"nosniff")]
# On the console's answers besides: scripts only from the console's own files (no inline
# script or handler runs, whatever text a page shows), and no other site may frame it.
CONSOLE_ANSWER = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "agentledger_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "agentledger_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "agentledger_pool_connections", "Pool connections", registry=self.registry
        )
        self.pool_available = Gauge(
            "agentledger_pool_available", "Idle pool connections", registry=self.registry
        )
        self.spool_pending = Gauge(
            "agentledger_spool_pending", "Writes waiting in the local spool", registry=self.registry
        )
        self.pool_waiting = Gauge(
            "agentledger_pool_waiting", "Requests waiting for a connection", registry=self.registry
        )
        self.open_streams = Gauge(
            "agentledger_open_streams", "Event and alert streams open", registry=self.registry
        )
        self.wakeup_connections = Gauge(
            "agentledger_wakeup_connections",
            "LISTEN connections the open streams share",
            registry=self.registry,
        )


class RequestContext:
    """Gives each request an id (``X-Request-ID``), refuses oversized bodies with 413, adds
    the security headers, and records its route, status and latency."""

    def __init__(self, app: ASGIApp, *, max_body: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        console = scope["path"] == "/console" or scope["path"].startswith("/console/")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _too_large(send, request_id, self.max_body, console=console)
            return
        received = 0
        too_large = answered = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    too_large = True
                    raise BodyTooLarge
            return message

        status = 500
        started = time.perf_counter()
        secured = EVERY_ANSWER + CONSOLE_ANSWER if console else EVERY_ANSWER

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if too_large:
                # A body streamed without a length went over the limit while the app read
                # it, and the app answered its own error (400): the answer is 413 instead.
                if not answered:
                    answered = True
                    status = 413
                    await _too_large(send, request_id, self.max_body, console=console)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if not any(name == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                headers.extend(secured)
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not answered:
                await _too_large(send, request_id, self.max_body, console=console)
            status = 413
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(elapsed)
            log.info(
                "%s %s %s %.1fms request_id=%s",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                request_id,
            )


class BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, request_id: str, limit: int, *, console: bool) -> None:
    """413: to the console a page its forms show, to the API a problem."""
    if console:
        body = (
            '<!doctype html><title>Too large</title><div class="card empty-state" '
            f'data-status="413"><strong>Too large</strong>The form sent more than the '
            f"{limit:,} bytes the server takes.</div>"
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                    *EVERY_ANSWER,
                    *CONSOLE_ANSWER,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await send_problem(
        send,
        413,
        "too-large",
        "The request body is too large.",
        f"the limit is {limit} bytes",
        request_id,
    )


async def send_problem(
    send: Send,
    status: int,
    kind: str,
    title: str,
    detail: str,
    request_id: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """An RFC 9457 answer sent from ASGI middleware, before or instead of the app's."""
    body = json.dumps(
        {
            "type": f"https://agentledger.dev/problems/{kind}",
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                *EVERY_ANSWER,
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
