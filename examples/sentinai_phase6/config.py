"""The seed's database configuration (``DATABASE_URL``, ``DB_*``) mapped onto agentledger's
Settings, and ``initialize_database()``: open the ledger, migrating, retrying while the
database is not reachable yet."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from agentledger import AsyncLedger, ConfigError, Settings, Unavailable

log = logging.getLogger(__name__)
N = TypeVar("N", int, float)

# The seed's defaults (its docker-compose): 5 pooled connections, 5 more on overflow, 30 s.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 5
DEFAULT_POOL_TIMEOUT = 30.0


def database_url(env: Mapping[str, str]) -> str | None:
    """``DATABASE_URL`` with the SQLAlchemy driver suffix dropped
    (``postgresql+asyncpg://`` is ``postgresql://``); None: the embedded server."""
    raw = env.get("DATABASE_URL", "").strip()
    if not raw:
        return None
    scheme, sep, rest = raw.partition("://")
    base = scheme.split("+", 1)[0]
    if not sep or base not in ("postgresql", "postgres"):
        raise ConfigError(
            f"DATABASE_URL = {raw!r} is invalid: expected postgresql://...", field="DATABASE_URL"
        )
    return f"postgresql://{rest}"


def phase6_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """agentledger settings from the seed's variables.

    ``DATABASE_URL`` is the database (unset: the embedded server); ``DB_POOL_SIZE`` plus
    ``DB_MAX_OVERFLOW`` is the pool's most connections (SQLAlchemy's pool opens the steady
    ones lazily, so at least one is kept open, not all); ``DB_POOL_TIMEOUT`` is the wait in
    seconds for a pooled connection. ``DB_ECHO`` is accepted; statements are logged by
    PostgreSQL (``log_statement``), not by the client. Keyword ``overrides`` win.
    """
    env = env if env is not None else os.environ
    size = _number(env, "DB_POOL_SIZE", DEFAULT_POOL_SIZE, int)
    overflow = _number(env, "DB_MAX_OVERFLOW", DEFAULT_MAX_OVERFLOW, int)
    timeout = _number(env, "DB_POOL_TIMEOUT", DEFAULT_POOL_TIMEOUT, float)
    if size < 1:
        raise ConfigError(f"DB_POOL_SIZE = {size} is invalid: at least 1", field="DB_POOL_SIZE")
    if overflow < 0:
        raise ConfigError(f"DB_MAX_OVERFLOW = {overflow} is invalid", field="DB_MAX_OVERFLOW")
    if timeout <= 0:
        raise ConfigError(f"DB_POOL_TIMEOUT = {timeout} is invalid", field="DB_POOL_TIMEOUT")
    values: dict[str, Any] = {
        "pool_min_size": 1,
        "pool_max_size": size + overflow,
        "pool_timeout": timeout,
    }
    url = database_url(env)
    if url is not None:
        values["database_url"] = url
    return Settings.from_env(**{**values, **overrides})


async def initialize_database(
    settings: Settings | None = None, *, attempts: int = 5, backoff: float = 0.5
) -> AsyncLedger:
    """An open AsyncLedger (migrations applied), trying ``attempts`` times while the
    database does not answer, waiting ``backoff`` seconds and doubling it between tries.
    Raises Unavailable when it never answered; the caller closes the ledger."""
    settings = settings if settings is not None else phase6_settings()
    delay = backoff
    for attempt in range(1, attempts + 1):
        ledger = AsyncLedger(settings)
        try:
            await ledger.open()
            if not (await ledger.health()).database:
                raise Unavailable("the database does not answer")
            return ledger
        except Exception as exc:
            await ledger.close()
            if not _unreachable(exc) or attempt == attempts:
                if _unreachable(exc):
                    raise Unavailable(
                        f"the database did not answer after {attempts} attempts: {exc}"
                    ) from exc
                raise
            log.warning("database not reachable (attempt %d of %d): %s", attempt, attempts, exc)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # the loop returns or raises


def _unreachable(exc: BaseException) -> bool:
    """A failure to reach the server (refused, reset, timed out), as opposed to a bad
    setting or a failed migration, which retrying would not mend."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Unavailable | OSError | TimeoutError):
            return True
        if type(seen).__name__ in ("OperationalError", "PoolTimeout", "ConnectionTimeout"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N]) -> N:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(
            f"{name} = {raw!r} is invalid: expected a {kind.__name__}", field=name
        ) from None
