"""``get_session_manager()``: the backend ``STORAGE_BACKEND`` names, behind one interface."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from examples.collab_sessions.interface import SessionBackend, StorageError
from examples.collab_sessions.json_backend import JsonBackend

BACKENDS = ("json", "postgres")
DEFAULT_JSON_DIR = "sessions_data"


def get_session_manager(
    backend: str | None = None, *, env: Mapping[str, str] | None = None
) -> SessionBackend:
    """The session store agents use: ``STORAGE_BACKEND=json`` (the default; files under
    ``SESSIONS_DIR``, default ``./sessions_data``) or ``postgres`` (agentledger on
    ``DATABASE_URL``, else the embedded PostgreSQL; tenant ``COLLAB_TENANT``, default
    ``collab``). Both implement :class:`SessionBackend`, so agents need no code change.
    Close it when done (``close()``, or use it as a context manager)."""
    env = os.environ if env is None else env
    name = (backend or env.get("STORAGE_BACKEND") or "json").strip().lower()
    if name == "json":
        return JsonBackend(Path(env.get("SESSIONS_DIR") or DEFAULT_JSON_DIR))
    if name == "postgres":
        # Imported here: the JSON backend needs nothing beyond the standard library.
        from examples.collab_sessions.postgres_backend import TENANT, PostgresBackend

        return PostgresBackend(tenant=env.get("COLLAB_TENANT") or TENANT)
    raise StorageError(f"STORAGE_BACKEND is {name!r}; expected one of {', '.join(BACKENDS)}")
