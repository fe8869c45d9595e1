"""Where the database is and how to connect to it: embedded or DATABASE_URL, owner or app."""

from __future__ import annotations

from collections import deque
from typing import Any, TypeVar

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agentledger.config import Settings
from agentledger.db.embedded import EmbeddedServer

# Installed when the server has them; features that need a missing one say so.
OPTIONAL_EXTENSIONS = ("pg_trgm", "vector")
C = TypeVar("C")


class RecentFirst(deque[C]):
    """A psycopg_pool pool's idle connections, the one returned last handed out first.

    psycopg_pool takes idle connections from the left of a deque and returns them to the
    right, so consecutive operations cycle through every idle connection, each served by a
    server process whose caches have gone cold; taken from the right, a lone caller keeps
    one connection, and the pool only reaches for a second under concurrency. A new pool's
    ``_pool`` is replaced by one (db/database_*.py; a test checks the order). When the pool
    shrinks, the idle connection it closes is then the one used last.
    """

    def popleft(self) -> C:
        return self.pop()


def owner_url(settings: Settings, *, start: bool = True) -> str:
    """The owner connection: DATABASE_URL, or the embedded server (started if asked)."""
    if settings.database_url is not None:
        return settings.database_url
    server = embedded_server(settings)
    return (server.start() if start else server.status()).url()


def embedded_server(settings: Settings, options: tuple[str, ...] = ()) -> EmbeddedServer:
    return EmbeddedServer(settings.data_dir, options=options)


def app_conninfo(settings: Settings, url: str) -> str:
    """The application's connection: ``app_url``, or the owner URL logged in as app_role."""
    if settings.app_url is not None:
        return settings.app_url
    params = conninfo_to_dict(url)
    params["user"] = settings.app_role
    params.pop("password", None)
    if settings.app_password is not None:
        params["password"] = settings.app_password.get_secret_value()
    return make_conninfo("", **params)


def app_password(settings: Settings) -> str | None:
    """The password a migration gives the app role: the configured one, unless ``app_url``
    carries a login of its own."""
    if settings.app_url is not None or settings.app_password is None:
        return None
    return settings.app_password.get_secret_value()


def read_conninfo(settings: Settings) -> str | None:
    """The standby connection for reads, None when none is configured: ``read_database_url``
    as given when ``app_url`` is set (it then carries its own login), otherwise logged in as
    app_role like the primary's application connection."""
    if settings.read_database_url is None:
        return None
    if settings.app_url is not None:
        return settings.read_database_url
    return app_conninfo(settings, settings.read_database_url)


def session_conninfo(settings: Settings, url: str) -> str | None:
    """Where what needs a session of its own connects (LISTEN, leader locks): the
    application's connection, or with a transaction-mode pooler ``session_url`` (as given
    when ``app_url`` is set, otherwise logged in as app_role); None when that is unset."""
    if settings.pooler == "session":
        return app_conninfo(settings, url)
    if settings.session_url is None:
        return None
    if settings.app_url is not None:
        return settings.session_url
    return app_conninfo(settings, settings.session_url)


def session_kwargs(settings: Settings) -> dict[str, Any]:
    """A session's connection. It speaks UTC whatever the server's default, so every
    datetime a record carries is in UTC (and psycopg builds it without a zone lookup).
    Statements are bounded by ``statement_timeout_ms``, and a session left idle inside a
    transaction is ended, so it cannot hold locks (an open append holds its tenant's event
    feed) or the vacuum horizon indefinitely."""
    options = (
        f"-c statement_timeout={settings.statement_timeout_ms}"
        f" -c idle_in_transaction_session_timeout={settings.idle_in_transaction_timeout_ms}"
        " -c TimeZone=UTC"
    )
    return {
        "autocommit": True,
        "connect_timeout": settings.connect_timeout,
        "application_name": "agentledger",
        "options": options,
    }


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    """The application's connections (``app_url``): sessions of their own (as
    :func:`session_kwargs`), or through a transaction-mode pooler, whose server sessions
    serve one transaction at a time: no session options (a pooler refuses them), and no
    prepared statements (a transaction's next may run on a session that never saw them);
    each transaction sets :func:`transaction_settings` instead."""
    if settings.pooler == "session":
        return session_kwargs(settings)
    return {
        "autocommit": True,
        "connect_timeout": settings.connect_timeout,
        "application_name": "agentledger",
        "prepare_threshold": None,
    }


def transaction_settings(settings: Settings) -> dict[str, str] | None:
    """What each transaction sets for itself through a transaction-mode pooler (the
    binding carries them: db/binding.py); None when connections keep their session's."""
    if settings.pooler == "session":
        return None
    return {
        "statement_timeout": str(settings.statement_timeout_ms),
        "idle_timeout": str(settings.idle_in_transaction_timeout_ms),
    }
