"""API processes forked from one that has already imported everything, so a scenario can
SIGKILL and restart the API a thousand times: ``python -m chaos.api_zygote``.

Each line ``PORT`` on stdin forks a child that does what ``agentledger serve`` does
(``create_app`` on the settings from the environment, uvicorn on 127.0.0.1:PORT); the
parent answers with the child's pid. The parent imports and never starts an event loop
or a thread, so the fork is clean; the children are reaped by ignoring SIGCHLD.
"""

from __future__ import annotations

import os
import signal
import sys

import uvicorn

from agentledger.api import create_app
from agentledger.config import Settings
from agentledger.db import migrate


def serve(port: int) -> None:
    uvicorn.run(create_app(Settings.from_env()), host="127.0.0.1", port=port, log_level="error")


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # What every child would otherwise load for itself: the revision graph, and uvicorn's
    # protocol, loop and lifespan modules (imported when a config is loaded).
    migrate.heads()
    uvicorn.Config(create_app, factory=True, log_level="error").load()
    for line in sys.stdin:
        port = int(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            quiet = os.open(os.devnull, os.O_RDWR)  # the parent's pipes are its own
            for fd in (0, 1):
                os.dup2(quiet, fd)
            try:
                serve(port)
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
