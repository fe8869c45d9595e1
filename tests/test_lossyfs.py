"""lossyfs, the power-loss scenario's FUSE file system: a drop undoes exactly the writes not
yet fsync'd, and reads see every write before it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos.unsynced import LossyMount, fuse_missing, lossy_mount

pytestmark = pytest.mark.skipif(bool(fuse_missing()), reason=fuse_missing() or "ok")


@pytest.fixture
def fs() -> Iterator[LossyMount]:
    with lossy_mount() as mounted:
        yield mounted


def _write(path: Path, data: bytes, *, offset: int = 0, flags: int = 0, sync: bool = False) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o644)
    try:
        os.pwrite(fd, data, offset)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def test_a_drop_keeps_what_was_fsynced_and_nothing_else(fs: LossyMount) -> None:
    mnt = fs.mountpoint
    _write(mnt / "synced", b"A" * 10_000, sync=True)
    _write(mnt / "synced", b"B" * 5, offset=4094)  # across a block boundary
    _write(mnt / "synced", b"tail", offset=10_000)  # grows the file
    _write(mnt / "never-synced", b"gone")
    _write(mnt / "o-dsync", b"kept", flags=os.O_DSYNC)
    _write(mnt / "truncated", b"C" * 6000, sync=True)
    os.truncate(mnt / "truncated", 10)
    _write(mnt / "renamed", b"D" * 100, sync=True)
    _write(mnt / "renamed", b"E" * 100)
    (mnt / "renamed").rename(mnt / "moved")
    # Before the power loss every write is visible (the page cache).
    assert (mnt / "synced").read_bytes() == b"A" * 4094 + b"B" * 5 + b"A" * 5901 + b"tail"
    assert (mnt / "never-synced").read_bytes() == b"gone"
    assert (mnt / "truncated").stat().st_size == 10
    assert (mnt / "moved").read_bytes() == b"E" * 100

    dropped = fs.power_loss()

    assert dropped["files"] == 4
    assert (mnt / "synced").read_bytes() == b"A" * 10_000
    assert (mnt / "never-synced").read_bytes() == b""  # its name was durable, not its data
    assert (mnt / "o-dsync").read_bytes() == b"kept"
    assert (mnt / "truncated").read_bytes() == b"C" * 6000
    assert (mnt / "moved").read_bytes() == b"D" * 100
    assert not (mnt / "renamed").exists()


def test_fdatasync_makes_a_file_durable_through_any_descriptor(fs: LossyMount) -> None:
    path = fs.mountpoint / "wal"
    _write(path, b"x" * 8192)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
    _write(path, b"y" * 10, offset=8192)
    fs.power_loss()
    assert path.read_bytes() == b"x" * 8192
    assert fs.dropped == [{"files": 1, "writes": 1, "bytes": 10}]
