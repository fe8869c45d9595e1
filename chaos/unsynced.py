"""Lost unsynced writes (a power loss): PostgreSQL's data directory on lossyfs
(chaos/lossyfs.py), a FUSE file system that keeps, in memory, what every file held at its
last fsync and can put it back. The workload of ``pg_kill`` runs with durable settings
(fsync, synchronous_commit and full_page_writes on); at random moments every PostgreSQL
process is SIGKILLed at once, every write not yet fsync'd is dropped, the file system is
mounted afresh (no kernel cache survives) and PostgreSQL starts again on it.

A control run with ``synchronous_commit=off`` shows the layer bites: there a commit is
acknowledged before its WAL is flushed, and the power loss must take some of those."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from chaos.common import NotRun, Result, own_server
from chaos.pg_kill import under_load

NAME = "Lost unsynced writes (power loss)"
METHOD = (
    "PostgreSQL (fsync, synchronous_commit, full_page_writes on) on lossyfs, a FUSE file "
    "system that drops every write not fsync'd; pg_kill's clients write events, memory "
    "and tasks with their own ids; at random moments every PostgreSQL process is "
    "SIGKILLed, the unsynced writes dropped, the file system remounted, PostgreSQL "
    "restarted; then every row read back as the owner"
)
CONTROL_NAME = "Lost unsynced writes: control, synchronous_commit=off"
CONTROL_METHOD = (
    "the same with synchronous_commit=off (a commit is acknowledged before its WAL is "
    "flushed): passes when the power loss does lose acknowledged writes, or the cluster"
)
ROOT = Path(__file__).resolve().parents[1]


def fuse_missing() -> str:
    """Why lossyfs cannot run on this machine, or '' when it can."""
    if os.geteuid() != 0:
        return "mounting a FUSE file system that other users may use needs root"
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse in this machine"
    if importlib.util.find_spec("fuse") is None:
        return "fuse-python is not installed (it comes with pip install -e '.[test]')"
    return ""


class LossyMount:
    """lossyfs over a backing directory, served by a process of its own."""

    def __init__(self, root: Path) -> None:
        self.backing = root / "backing"
        self.mountpoint = root / "mnt"
        self.stats = root / "dropped.json"
        self.log = root / "lossyfs.log"
        self.backing.mkdir(exist_ok=True)
        self.mountpoint.mkdir(exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.dropped: list[dict[str, int]] = []

    def mount(self) -> None:
        argv = [str(p) for p in (self.backing, self.mountpoint, self.stats)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "chaos.lossyfs", *argv],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"lossyfs did not mount: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def drop(self) -> dict[str, int]:
        """The power loss: every write not fsync'd is undone. Returns what was dropped."""
        fd = os.open(self.mountpoint / ".lossyfs", os.O_WRONLY)
        try:
            os.write(fd, b"drop")
        finally:
            os.close(fd)
        dropped: dict[str, int] = json.loads(self.stats.read_text())
        self.dropped.append(dropped)
        return dropped

    def unmount(self) -> None:
        subprocess.run(["umount", str(self.mountpoint)], check=True, capture_output=True)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def power_loss(self) -> dict[str, int]:
        """Drop the unsynced writes, then mount afresh: the kernel's cache goes too."""
        dropped = self.drop()
        self.unmount()
        self.mount()
        return dropped

    def close(self) -> None:
        if os.path.ismount(self.mountpoint):
            subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@contextlib.contextmanager
def lossy_mount() -> Iterator[LossyMount]:
    """A fresh lossyfs mount in a temporary directory, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="al-chaos-lossy-"))
    root.chmod(0o755)  # PostgreSQL runs as an unprivileged user
    fs = LossyMount(root)
    try:
        fs.mount()
        yield fs
    finally:
        fs.close()
        shutil.rmtree(root, ignore_errors=True)


def run(quick: bool) -> list[Result]:
    if quick:
        raise NotRun("full run only: PostgreSQL on a Python FUSE file system needs minutes")
    missing = fuse_missing()
    if missing:
        raise NotRun(missing)
    durable = _power_losses(Result(NAME, METHOD), cycles=4, seed=22, options=())
    return [durable, _control()]


def _power_losses(result: Result, *, cycles: int, seed: int, options: Sequence[str]) -> Result:
    rng = random.Random(seed)
    started = time.monotonic()
    with lossy_mount() as fs:
        try:
            with own_server(base=fs.mountpoint, options=options, fresh=True) as own:

                def crash() -> None:
                    own.kill9(at_once=True)
                    fs.power_loss()
                    own.restart()

                return under_load(
                    own, result, cycles=cycles, clients=6, tenants=3, crash=crash, rng=rng
                )
        finally:
            result.details["dropped_per_power_loss"] = fs.dropped
            result.seconds = round(time.monotonic() - started, 1)


def _control() -> Result:
    result = Result(CONTROL_NAME, CONTROL_METHOD)
    broken = ""
    try:
        _power_losses(result, cycles=1, seed=23, options=("synchronous_commit=off",))
    except Exception as exc:  # a cluster that does not come back also shows the loss
        broken = f"{type(exc).__name__}: {exc}"
        result.details["broken"] = broken
    result.passed = bool(result.lost or broken)
    result.reason = (
        f"control: loss seen, as it must be ({broken or f'{result.lost} acknowledged lost'})"
        if result.passed
        else "control: nothing lost, so the power loss did not bite"
    )
    return result
