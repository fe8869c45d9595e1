"""The embedded server through the CLI: start, share, survive, stale pid files, stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from agentledger.db.embedded import EmbeddedServer, bin_dir, shared_buffers_mb
from tests.conftest import server_dir

pytestmark = pytest.mark.slow


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["AGENTLEDGER_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "agentledger.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = server_dir()
    yield path
    EmbeddedServer(path).stop(mode="immediate")
    shutil.rmtree(path, ignore_errors=True)


def test_db_start_outlives_the_cli_and_psql_connects(data_dir: Path) -> None:
    started = cli(data_dir, "db", "start")
    assert started.returncode == 0, started.stderr
    url = cli(data_dir, "db", "url").stdout.strip()
    assert url.startswith("postgresql://")
    psql = subprocess.run(
        [str(bin_dir() / "psql"), url, "-tAc", "select 1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.stdout.strip() == "1", psql.stderr
    assert cli(data_dir, "db", "status").returncode == 0
    assert cli(data_dir, "db", "stop").returncode == 0
    assert cli(data_dir, "db", "status").returncode == 1


def _buffers_mb(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT setting::bigint * 8192 / 1048576 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_buffer_cache_is_sized_to_the_machine_unless_an_option_says(data_dir: Path) -> None:
    assert 128 <= shared_buffers_mb() <= 2048
    server = EmbeddedServer(data_dir)
    assert _buffers_mb(server.start().url()) == shared_buffers_mb()
    server.stop()
    told = EmbeddedServer(data_dir, options=("shared_buffers=48MB",))
    assert _buffers_mb(told.start().url()) == 48


def test_concurrent_starters_share_one_server(data_dir: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: cli(data_dir, "db", "start"), range(4)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    pids = {r.stdout.split("pid ")[1].split(")")[0] for r in results}
    assert len(pids) == 1


def test_stale_pid_file_after_a_crash_is_handled(data_dir: Path) -> None:
    server = EmbeddedServer(data_dir)
    status = server.start()
    assert status.pid is not None
    os.kill(status.pid, 9)  # a crash: the pid file stays behind
    pid_file = server.pgdata / "postmaster.pid"
    _wait_dead(status.pid)
    assert pid_file.exists()
    restarted = server.start()
    assert restarted.running and restarted.pid != status.pid
    with psycopg.connect(restarted.url()) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_demo_migrates_and_creates_a_tenant(data_dir: Path) -> None:
    result = cli(data_dir, "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout and "/console/" in result.stdout
    assert "al_" in result.stdout  # the admin key to sign in with
    listed = cli(data_dir, "tenant", "list")
    assert "demo" in listed.stdout


def _wait_dead(pid: int) -> None:
    import time

    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A killed child of another process stays a zombie until reaped; /proc tells.
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)
