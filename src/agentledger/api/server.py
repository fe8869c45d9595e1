"""Serving the API with uvicorn, stopping promptly.

On SIGTERM or Ctrl-C uvicorn stops accepting connections and waits for the open responses
to end; an event stream never ends by itself, so one open stream kept the server up until
its client left. :class:`Server` ends the app's streams as soon as it is asked to stop,
and ``shutdown_timeout`` bounds the wait for any other response (then cancelled).
"""

from __future__ import annotations

from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from agentledger.api.streams import OpenStreams


class Server(uvicorn.Server):
    """uvicorn's server, which ends the API's open event streams when it begins to stop."""

    def __init__(self, config: uvicorn.Config, streams: OpenStreams) -> None:
        super().__init__(config)
        self._streams = streams

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._streams.close_all()


def run(app: FastAPI, *, shutdown_timeout: int, **options: Any) -> None:
    """Serve ``app`` (made by ``create_app``) until a signal asks it to stop."""
    config = uvicorn.Config(app, timeout_graceful_shutdown=shutdown_timeout, **options)
    Server(config, app.state.streams).run()
