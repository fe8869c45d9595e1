"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from agentledger.api import problems
from agentledger.api.auth import SCHEME
from agentledger.api.middleware import Metrics, RequestContext
from agentledger.api.ratelimit import RateLimit
from agentledger.api.routes import (
    agents,
    alerts,
    case_kinds,
    case_relations,
    cases,
    catalog,
    decisions,
    events,
    health,
    keys,
    memory,
    memory_spaces,
    runs,
    session_artifacts,
    sessions,
    tasks,
    tenants,
)
from agentledger.api.schemas import ERRORS
from agentledger.api.streams import OpenStreams
from agentledger.config import Settings
from agentledger.console import mount as mount_console
from agentledger.errors import LedgerError
from agentledger.ledger import AsyncLedger
from agentledger.web.auth import KeyCache

DESCRIPTION = """The PostgreSQL system of record for AI agents, over HTTP.

Authenticate with `Authorization: Bearer <API key>`; the key decides the tenant and the role
(reader < writer < admin). Lists are keyset-paginated: pass `next_cursor` back as `cursor`.
Errors are RFC 9457 `application/problem+json` naming the offending `field`.
"""


def create_app(settings: Settings | None = None, *, ledger: AsyncLedger | None = None) -> FastAPI:
    """The API; it opens its own AsyncLedger (migrating first) unless one is given."""
    settings = settings if settings is not None else Settings.from_env()
    owned = ledger is None
    the_ledger = ledger if ledger is not None else AsyncLedger(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            await the_ledger.open()
        try:
            yield
        finally:
            if owned:
                await the_ledger.close()

    app = FastAPI(title="agentledger", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.ledger = the_ledger
    app.state.key_cache = KeyCache()
    app.state.admin_key = (
        settings.admin_key.get_secret_value() if settings.admin_key is not None else None
    )
    app.state.metrics = Metrics()
    app.state.sse_poll = 1.0
    # How often a stream woken by notifications reads anyway (one may be lost).
    app.state.sse_fallback = 15.0
    app.state.streams = OpenStreams(settings.max_streams_per_key)
    app.add_exception_handler(LedgerError, problems.ledger_error)
    app.add_exception_handler(RequestValidationError, problems.validation_error)
    app.add_exception_handler(HTTPException, problems.http_error)
    for module in (
        tenants,
        keys,
        memory,
        memory_spaces,
        events,
        decisions,
        runs,
        alerts,
        tasks,
        agents,
        sessions,
        session_artifacts,
        catalog,
        case_kinds,
        cases,
        case_relations,
    ):
        app.include_router(module.router, responses=ERRORS, dependencies=[Depends(SCHEME)])
    app.include_router(health.router)
    mount_console(app)
    if settings.rate_limit is not None:
        # Inside RequestContext, so a 429 has its request id and is counted in the metrics.
        app.add_middleware(RateLimit, limits=settings.rate_limit)
    app.add_middleware(RequestContext, max_body=settings.max_body_bytes, metrics=app.state.metrics)
    return app
