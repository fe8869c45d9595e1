"""Console sign-in: an API key exchanged for a server-side session id in a strict cookie,
and the session's CSRF token that every state-changing request must carry."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from agentledger.web.auth import Principal

COOKIE = "agentledger_session"
TTL_SECONDS = 12 * 3600
CSRF_HEADER = "x-csrf-token"  # htmx sends it on every request (hx-headers on <body>)
CSRF_FIELD = "csrf"  # plain forms post it as a hidden field
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Session:
    principal: Principal
    secret: str
    expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class Sessions:
    """In-memory sessions: a restart signs everyone out, and no key is ever sent back."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def create(self, principal: Principal, secret: str) -> str:
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = Session(principal, secret, time.monotonic() + TTL_SECONDS)
        return sid

    def get(self, request: Request) -> Session | None:
        sid = request.cookies.get(COOKIE)
        session = self._by_id.get(sid) if sid else None
        if session is None or session.expires < time.monotonic():
            return None
        return session

    def drop(self, request: Request) -> None:
        sid = request.cookies.get(COOKIE)
        if sid:
            self._by_id.pop(sid, None)


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


async def check_csrf(request: Request, session: Session) -> None:
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
    if sent is None or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise HTTPException(403, "Missing or stale CSRF token: reload the page and try again")
