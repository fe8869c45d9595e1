"""Serving the MCP server: over stdio with the one key it was started with, or over
streamable HTTP with each request's bearer key.

HTTP runs stateless (every request stands alone, so any key may call at any time and the
server holds no sessions) and answers JSON rather than event streams (no tool here sends
progress). Bound to a loopback host it refuses other Host and Origin headers, against DNS
rebinding. It holds to the REST API's limits, from the same settings: the body size
(``AGENTLEDGER_MAX_BODY_BYTES``, 413), each key's request rate (``AGENTLEDGER_RATE_LIMIT``,
429), with a request id on every answer and a line per request in the access log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from agentledger.api.middleware import Metrics, RequestContext
from agentledger.api.ratelimit import RateLimit
from agentledger.config import Settings
from agentledger.errors import PermissionDenied
from agentledger.integrations.mcp.auth import (
    UNKNOWN_KEY,
    Access,
    KeyVerifier,
    bearer_caller,
    key_caller,
)
from agentledger.integrations.mcp.server import create_server
from agentledger.ledger import AsyncLedger
from agentledger.web.auth import KeyCache, lookup

DEFAULT_PORT = 8701


async def serve_stdio(settings: Settings, api_key: str) -> None:
    """Serve MCP on stdin/stdout until the client closes them. The key is checked before
    the first message (PermissionDenied when it is unknown or revoked) and again, through a
    short cache, on every call."""
    async with AsyncLedger(settings) as ledger:
        cache = KeyCache()
        if await lookup(ledger, cache, api_key.strip()) is None:
            raise PermissionDenied(UNKNOWN_KEY)
        server = create_server(Access(ledger, key_caller(ledger, api_key.strip(), cache)))
        await server.run_stdio_async()


def http_app(
    ledger: AsyncLedger,
    *,
    path: str = "/mcp",
    host: str = "127.0.0.1",
    issuer_url: str | None = None,
    open_ledger: bool = True,
) -> Starlette:
    """An ASGI app serving MCP over streamable HTTP at ``path``; a request without a live
    key in ``Authorization: Bearer`` is answered 401, one over the ledger's settings' body
    size or rate limit 413 or 429. Its lifespan opens ``ledger`` (unless ``open_ledger`` is
    False: the caller opens and closes it) and runs the SDK's session manager; mounted
    inside another app, run that lifespan from the host app's."""
    server = create_server(
        Access(ledger, bearer_caller),
        verifier=KeyVerifier(ledger),
        issuer_url=issuer_url or f"http://{host}",
    )
    inner = server.streamable_http_app(
        streamable_http_path=path, stateless_http=True, json_response=True, host=host
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if open_ledger:
                await ledger.open()
                stack.push_async_callback(ledger.close)
            await stack.enter_async_context(server.session_manager.run())
            yield

    settings = ledger.settings
    limited: ASGIApp = inner
    if settings.rate_limit is not None:
        limited = RateLimit(limited, limits=settings.rate_limit)
    limited = RequestContext(limited, max_body=settings.max_body_bytes, metrics=Metrics())
    return Starlette(routes=[Mount("/", app=limited)], lifespan=lifespan)


def serve_http(
    settings: Settings, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, path: str = "/mcp"
) -> None:
    """Serve MCP over streamable HTTP at ``http://host:port/path`` until interrupted."""
    import uvicorn

    app = http_app(AsyncLedger(settings), path=path, host=host, issuer_url=f"http://{host}:{port}")
    # An MCP client may hold a stream open: past 10 s a stopping server cancels it.
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
