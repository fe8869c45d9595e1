"""Console sign-in: an API key exchanged for a sign-in kept in the database (so every
process serving the console knows it), whose random token the browser holds in a strict
cookie, and the sign-in's CSRF token that every state-changing request must carry."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from agentledger.tenants import SignIn
from agentledger.tenants.ops import SIGN_IN_SECONDS
from agentledger.web.auth import ledger_of

COOKIE = "agentledger_session"
CSRF_HEADER = "x-csrf-token"  # htmx sends it on every request (hx-headers on <body>)
CSRF_FIELD = "csrf"  # plain forms post it as a hidden field
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def sign_in(request: Request, response: Response, key: str) -> SignIn | None:
    """Open a sign-in with ``key`` and give the browser its token; None for a dead key."""
    opened = await ledger_of(request).tenants.sign_in(key)
    if opened is not None:
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=SIGN_IN_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return opened


async def signed_in(request: Request) -> SignIn | None:
    """The live sign-in the browser's cookie stands for, or None."""
    token = request.cookies.get(COOKIE)
    return await ledger_of(request).tenants.signed_in(token) if token else None


async def sign_out(request: Request, response: Response) -> None:
    """End the browser's sign-in, here and in every other process, and drop its cookie."""
    token = request.cookies.get(COOKIE)
    if token:
        await ledger_of(request).tenants.sign_out(token)
    response.delete_cookie(COOKIE)


def check_origin(request: Request) -> None:
    """A state-changing request sent by a page of another site is refused (403).

    Browsers send ``Origin`` on cross-site POSTs; a request without it (a script, curl) is
    judged by its CSRF token alone.
    """
    origin = request.headers.get("origin")
    if origin is None or request.method in SAFE_METHODS:
        return
    theirs = urlsplit(origin)
    ours = request.url
    if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
        raise HTTPException(403, f"Cross-site request from {origin} refused")


async def check_csrf(request: Request, expected: str) -> None:
    """The session's CSRF token, from the htmx header or the form field, or 403."""
    if request.method in SAFE_METHODS:
        return
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "Missing or stale CSRF token: reload the page and try again")
