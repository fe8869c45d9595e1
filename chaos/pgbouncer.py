"""PgBouncer in transaction mode in front of a database, as managed services run it (Neon's
and Supabase's pooled endpoints, RDS Proxy): each transaction may run on another server
session, and the pooler refuses session options. For the tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from agentledger.db.scoped_sync import Scoped
from chaos.common import free_port

# Fewer server sessions than the library's pool has connections (by default): transactions
# of one client connection land on different sessions, and clients take turns on each.
SERVER_SESSIONS = 2


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")
    assert found, "PgBouncer is needed: apt-get install -y pgbouncer (./dev.sh test does it)"
    return found


class PgBouncer(Scoped):
    """``with PgBouncer(database_url, user) as bouncer: bouncer.url`` -- a pooler in
    transaction mode that logs every client in as ``user`` on the database of
    ``database_url``, through at most ``server_sessions`` server sessions."""

    def __init__(
        self, database_url: str, user: str, *, server_sessions: int = SERVER_SESSIONS
    ) -> None:
        parts = urlsplit(database_url)
        self.dbname = parts.path.lstrip("/")
        self._target = f"host={parts.hostname} port={parts.port or 5432} dbname={self.dbname}"
        self.user = user
        self.server_sessions = server_sessions
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="agentledger-pgbouncer-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    def open(self) -> Self:
        return self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def start(self) -> Self:
        """Run the pooler (again, after ``stop``: on the same port) once it listens."""
        config = self._dir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"{self.dbname} = {self._target} user={self.user}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = any\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.server_sessions}\n"
            "max_client_conn = 200\n"
            f"logfile = {self._dir / 'pgbouncer.log'}\n"
        )
        command = [pgbouncer_binary(), str(config)]
        if os.geteuid() == 0:  # it refuses to run as root
            self._dir.chmod(0o777)
            command[1:1] = ["-u", "nobody"]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"pgbouncer exited: {err} {self.log()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not listen: {self.log()}")

    def stop(self) -> None:
        """Stop the pooler: its clients' connections break."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def log(self) -> str:
        path = self._dir / "pgbouncer.log"
        return path.read_text() if path.exists() else ""
