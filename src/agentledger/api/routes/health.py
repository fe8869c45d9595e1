"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agentledger.api.middleware import Metrics
from agentledger.api.schemas import Health
from agentledger.ledger import Health as LedgerHealth
from agentledger.web.auth import ledger_of

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database answers and is migrated",
    responses={503: {"model": Health}},
)
async def readyz(request: Request) -> JSONResponse:
    health = await ledger_of(request).health()
    ready = health.database and health.migrations_current
    body = Health(
        status="ok" if ready else "unavailable",
        database=health.database,
        migrations_current=health.migrations_current,
        extensions=sorted(health.extensions),
        missing_revisions=list(health.missing_revisions),
        unknown_revisions=list(health.unknown_revisions),
        detail=None if ready else _why(health),
        standby=health.standby,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _why(health: LedgerHealth) -> str:
    if not health.database:
        return "the database does not answer"
    return health.migrations


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    m: Metrics = request.app.state.metrics
    stats = ledger_of(request).pool_stats()
    m.pool_size.set(stats.get("pool_size", 0))
    m.pool_available.set(stats.get("pool_available", 0))
    m.pool_waiting.set(stats.get("requests_waiting", 0))
    m.open_streams.set(request.app.state.streams.total())
    m.wakeup_connections.set(ledger_of(request).db.wakeups.connections())
    spool = ledger_of(request).spool_status()
    if spool is not None:
        m.spool_pending.set(spool.pending)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
