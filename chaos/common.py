"""What every chaos scenario shares: a server of its own that it may kill, the result row,
and a way to say a scenario could not run.

A scenario is a module with ``NAME`` (its row label) and ``run(quick: bool) -> Result`` (or
a list of rows: the scenario's and its controls'); it counts what it did and what it found
and decides ``passed`` from the counts alone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from agentledger import Settings
from agentledger.db import migrate
from agentledger.db.embedded import FAST_OPTIONS, PG_SUBDIR, EmbeddedServer

console = Console()
SMALL_BUFFERS = "shared_buffers=128MB"


@dataclass
class Result:
    """One row of a scenario (a scenario may add a control row). ``passed`` is None when
    the scenario did not run (``reason``)."""

    scenario: str
    method: str
    operations: int = 0
    faults: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicated: int = 0
    leaked: int = 0
    passed: bool | None = None
    reason: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    module: str = ""

    def decide(self, *extra_failures: str) -> Result:
        """Pass only when something ran and nothing was lost, duplicated or leaked."""
        failures = [f for f in extra_failures if f]
        if self.operations == 0:
            failures.append("no operations ran")
        if self.lost or self.duplicated or self.leaked:
            failures.append("lost, duplicated or leaked writes")
        self.passed = not failures
        if failures:
            self.reason = "; ".join(failures)
        return self

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class NotRun(Exception):
    """Raised by a scenario that cannot run on this machine; the message says why."""


_cluster: Path | None = None


def migrated_cluster() -> Path:
    """A cluster initialised and migrated once per run, then stopped cleanly (its files
    complete on disk). Each scenario's server starts from a copy of it: a copy starts in
    about a second, where initdb and every migration take ten."""
    global _cluster
    if _cluster is None:
        where = Path(tempfile.mkdtemp(prefix="al-chaos-cluster-"))
        where.chmod(0o755)
        atexit.register(shutil.rmtree, where, True)
        server = EmbeddedServer(where, options=(SMALL_BUFFERS, *FAST_OPTIONS))
        server.start()
        try:
            migrate.upgrade(server.url())
        finally:
            server.stop("fast")  # a clean stop writes a checkpoint: no unsynced pages left
        _cluster = where
    return _cluster


class OwnServer:
    """A durable embedded PostgreSQL in a temporary directory, migrated, that a scenario
    may stop, crash and restart without disturbing anything else."""

    def __init__(
        self,
        *,
        durable: bool = True,
        base: Path | None = None,
        options: Sequence[str] = (),
        fresh: bool = False,
    ) -> None:
        # Outside any private temp tree: under root the server runs as an unprivileged user.
        self.dir = Path(tempfile.mkdtemp(prefix="al-chaos-", dir=base))
        self.dir.chmod(0o755)
        # PostgreSQL's own small buffer cache: restarts after a crash stay quick.
        chosen = (SMALL_BUFFERS,) if durable else (SMALL_BUFFERS, *FAST_OPTIONS)
        if not fresh:
            # A copy of the run's migrated cluster (ownership kept): no initdb, no
            # migrations. ``fresh`` initialises one instead, with only the files initdb
            # and the migrations leave (a scenario measuring free space wants that), each
            # fsync'd by them (a copy is not: a power loss would take it back).
            cluster = str(migrated_cluster() / PG_SUBDIR)
            subprocess.run(["cp", "-a", cluster, str(self.dir)], check=True)
        self.server = EmbeddedServer(self.dir, options=(*chosen, *options))
        self.server.start()
        self.url = self.server.url()
        self.admin_url = self.server.url("postgres")
        if fresh:
            migrate.upgrade(self.url)

    def settings(self, **kw: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": self.url,
            "data_dir": self.dir / "data",
            "pool_timeout": 2.0,
            "connect_timeout": 2,
            "retry_attempts": 3,
            "retry_backoff": 0.05,
        }
        return Settings.build(**{**base, **kw})

    def kill9(self, *, at_once: bool = False) -> int:
        """SIGKILL the postmaster, then its orphaned backends (a crashed server); with
        ``at_once`` every process together and none left running (a power loss)."""
        status = self.server.status()
        assert status.pid is not None
        children = _children(status.pid)
        os.kill(status.pid, signal.SIGKILL)
        if at_once:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + (30 if at_once else 5)
        while time.monotonic() < deadline and any(_alive(p) for p in [status.pid, *children]):
            time.sleep(0.05)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return status.pid

    def restart(self) -> None:
        """Start again after a crash; retried while the dead server's memory is released."""
        deadline = time.monotonic() + 60
        while True:
            try:
                self.server.start()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        self.url = self.server.url()

    def stop(self) -> None:
        self.server.stop("fast")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def owner(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)


@contextlib.contextmanager
def own_server(
    *,
    durable: bool = True,
    base: Path | None = None,
    options: Sequence[str] = (),
    fresh: bool = False,
) -> Iterator[OwnServer]:
    own = OwnServer(durable=durable, base=base, options=options, fresh=fresh)
    try:
        yield own
    finally:
        own.close()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaps yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def duplicates(ids: Sequence[object]) -> int:
    """How many entries repeat an earlier one."""
    return len(ids) - len(set(ids))
