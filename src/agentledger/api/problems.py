"""Errors as RFC 9457 problem+json: the status from the error class, the field named."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from agentledger.errors import LedgerError, Spooled

PROBLEM = "application/problem+json"
# The title of a problem whose type has one, whatever raised it (the rate limiter answers
# 429 itself, an event stream through an HTTPException).
TITLES = {429: "Too many requests."}


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
        **(_spooled(exc) if isinstance(exc, Spooled) else {}),
    )


def _spooled(exc: Spooled) -> dict[str, Any]:
    """What a 202 "spooled" answer names besides its detail: the spool entry, and the id of
    the record the write makes or changes (the one sent, or the one the server made), so a
    client can finish the run, answer the decision, or repeat the request without a second
    record (null when the write takes no id: a memory upsert, keyed by its natural key)."""
    record = exc.record_id
    return {"entry_id": exc.entry_id, "record_id": None if record is None else str(record)}


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [(_field(e), _message(e)) for e in exc.errors()]
    field, msg = errors[0] if errors else ("", "invalid request")
    return problem(
        422,
        "The input is not valid.",
        f"{field}: {msg}" if field else msg,
        code="invalid-input",
        field=field or None,
        errors=[{"field": f, "message": m} for f, m in errors][:20],
        request_id=getattr(request.state, "request_id", None),
    )


def _field(error: Any) -> str:
    """The field an error names, as the caller sent it: its location within the part of
    the request (body, query...), or ``body`` for the body as a whole, and for a body that
    is not JSON (whose location holds the character where parsing stopped)."""
    loc = list(error.get("loc", ()))
    if error.get("type") == "json_invalid" or loc == ["body"]:
        return "body"
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    return ".".join(str(part) for part in loc)


def _message(error: Any) -> str:
    if error.get("type") != "json_invalid":
        return str(error.get("msg"))
    reason = (error.get("ctx") or {}).get("error") or "JSON decode error"
    where = error.get("loc", ())[1:]
    at = f" at character {where[0]}" if where else ""
    return f"not valid JSON ({reason}{at})"


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
        429: "rate-limited",  # as the rate limiter's own (ratelimit.py); with Retry-After
    }.get(exc.status_code, "http-error")
    response = problem(
        exc.status_code,
        TITLES.get(exc.status_code, str(exc.detail)),
        str(exc.detail),
        code=code,
        request_id=getattr(request.state, "request_id", None),
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response
