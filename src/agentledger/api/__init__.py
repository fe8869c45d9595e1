"""The HTTP API: FastAPI routes over AsyncLedger; it never writes SQL."""

from agentledger.api.app import create_app

__all__ = ["create_app"]
