"""Seed 001: collaborative multi-agent sessions on a JSON or a PostgreSQL backend."""

from examples.collab_sessions.interface import SessionBackend, StorageError
from examples.collab_sessions.json_backend import JsonBackend
from examples.collab_sessions.manager import get_session_manager

__all__ = ["JsonBackend", "SessionBackend", "StorageError", "get_session_manager"]
