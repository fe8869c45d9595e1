"""Console sign-in: an API key exchanged for a server-side session id in a strict cookie."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from fastapi import Request

from agentledger.api.auth import Principal

COOKIE = "agentledger_session"
TTL_SECONDS = 12 * 3600


@dataclass
class Session:
    principal: Principal
    secret: str
    expires: float


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
