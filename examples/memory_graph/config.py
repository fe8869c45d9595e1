"""The seed's environment (``POSTGRES_*``) mapped onto agentledger's Settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from agentledger import ConfigError, Settings

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# The seed's pool: max_size 20, min_size 2, command_timeout 60 s.
DEFAULT_POOL_SIZE = 20


def postgres_enabled(env: Mapping[str, str] | None = None) -> bool:
    """``POSTGRES_ENABLED`` (default true): false runs the application on SQLite alone."""
    return flag(env if env is not None else os.environ, "POSTGRES_ENABLED", default=True)


def connection_string(env: Mapping[str, str]) -> str | None:
    """A URL from ``POSTGRES_HOST/PORT/DB/USER/PASSWORD`` and ``POSTGRES_SSL``, when
    ``POSTGRES_HOST`` is set; None leaves ``DATABASE_URL`` (or the embedded server)."""
    host = env.get("POSTGRES_HOST")
    if not host:
        return None
    user = quote(env.get("POSTGRES_USER", "postgres"), safe="")
    password = env.get("POSTGRES_PASSWORD")
    auth = user if not password else f"{user}:{quote(password, safe='')}"
    port = env.get("POSTGRES_PORT", "5432")
    db = quote(env.get("POSTGRES_DB", "consultant_assistant"), safe="")
    query = {"sslmode": "require"} if flag(env, "POSTGRES_SSL", default=False) else {}
    return f"postgresql://{auth}@{host}:{port}/{db}" + (f"?{urlencode(query)}" if query else "")


def memory_settings(
    connection: str | None = None,
    pool_size: int | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """agentledger settings for the memory backend.

    The database: ``connection`` if given, else the ``POSTGRES_*`` variables, else
    ``DATABASE_URL``, else the embedded server. The pool: ``pool_size`` or
    ``POSTGRES_POOL_SIZE`` (20) connections, at least 2 kept open, statements limited to
    60 s. A spool beside the data directory (``AGENTLEDGER_SPOOL_DIR`` to move it) keeps
    node stores while PostgreSQL is down; a call gives up within about a second (a 0.5 s
    pool wait, a 1 s connect timeout, two attempts) rather than stall the application.
    """
    env = env if env is not None else os.environ
    size = pool_size if pool_size is not None else integer(env, "POSTGRES_POOL_SIZE")
    if size < 1:
        raise ConfigError(f"POSTGRES_POOL_SIZE = {size} is invalid: at least 1", field="pool_size")
    values: dict[str, Any] = {
        "pool_min_size": min(2, size),
        "pool_max_size": size,
        "statement_timeout_ms": 60_000,
        "pool_timeout": 0.5,
        "connect_timeout": 1,
        "retry_attempts": 2,
        "retry_backoff": 0.05,
    }
    url = connection or connection_string(env)
    if url is not None:
        values["database_url"] = url
    settings = Settings.from_env(**{**values, **overrides})
    if settings.spool_dir is None:
        settings = settings.with_(spool_dir=Path(settings.data_dir) / "memory-graph-spool")
    return settings


def flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in TRUE + FALSE:
        raise ConfigError(f"{name} = {raw!r} is invalid: expected true or false", field=name)
    return value in TRUE


def integer(env: Mapping[str, str], name: str, default: int = DEFAULT_POOL_SIZE) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} = {raw!r} is invalid: expected a number", field=name) from None
