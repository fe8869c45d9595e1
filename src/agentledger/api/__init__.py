"""The HTTP API: FastAPI routes over AsyncLedger; it never writes SQL."""

from agentledger.api.app import (
    create_app as create_app,
)
