"""Errors as RFC 9457 problem+json: the status from the error class, the field named."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from agentledger.errors import LedgerError

PROBLEM = "application/problem+json"


def problem(
    status: int, title: str, detail: str, *, code: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://agentledger.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


async def ledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    title = (type(exc).__doc__ or type(exc).__name__).strip().splitlines()[0]
    return problem(
        exc.status,
        title,
        exc.message,
        code=exc.code,
        field=exc.field,
        request_id=getattr(request.state, "request_id", None),
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    detail = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return problem(
        422,
        "The input is not valid.",
        detail,
        code="invalid-input",
        field=field,
        errors=[
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg")}
            for e in errors
        ][:20],
        request_id=getattr(request.state, "request_id", None),
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # A JSON body that is not UTF-8: the caller's input, answered like malformed JSON.
        return problem(
            422,
            "The input is not valid.",
            f"body: not UTF-8 ({exc.__cause__.reason} at byte {exc.__cause__.start})",
            code="invalid-input",
            field="body",
            request_id=getattr(request.state, "request_id", None),
        )
    code = {
        401: "unauthorized",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        413: "too-large",
    }.get(exc.status_code, "http-error")
    response = problem(
        exc.status_code,
        str(exc.detail),
        str(exc.detail),
        code=code,
        request_id=getattr(request.state, "request_id", None),
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response
