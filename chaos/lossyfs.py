"""lossyfs: a pass-through FUSE file system that can lose every write not yet made durable,
the way a machine's page cache is lost when its power fails (LazyFS's idea, in Python).

    python -m chaos.lossyfs BACKING MOUNTPOINT STATS_JSON

Every operation passes through to ``BACKING``, so reads see every write at once (the page
cache). What the file system adds is a memory of what each file held at its last durable
point: before a write, a truncation or an ``O_TRUNC`` open first changes a 4 KiB block of a
file since that point, the block's old bytes and the file's old length are kept in memory.
``fsync`` or ``fdatasync`` of a file (through any descriptor) makes the whole file durable
and forgets them; a write through a descriptor opened ``O_SYNC`` or ``O_DSYNC`` does the
same once it returns.

Writing ``drop`` to the virtual file ``/.lossyfs`` at the mount's root is the power loss:
every file gets its durable bytes and length back, and a summary of what was dropped goes
to ``STATS_JSON``. Unmount and mount again before reading further, so that the kernel's own
cache of the mount is gone too.

What it does not model: directory operations (create, rename, unlink, mkdir, link,
chmod, chown) are durable at once, with or without an fsync of the directory, so a file
created and never fsynced survives a drop, empty; a synced write is never torn, and an
unsynced one is dropped whole, never in part; the backing directory itself is never
fsynced (the real machine does not lose power). ``sync_file_range`` and ``syncfs`` do not
reach a FUSE file system, so they make nothing durable here.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fuse

fuse.fuse_python_api = (0, 2)

CONTROL = "/.lossyfs"
BLOCK = 4096
SYNC_FLAGS = os.O_SYNC | os.O_DSYNC


def _backing_flags(flags: int) -> int:
    """Open the backing file for reading too (a block's old bytes are read before it
    changes) and without O_APPEND (the kernel passes each write's offset)."""
    return (flags & ~(os.O_ACCMODE | os.O_APPEND)) | os.O_RDWR if flags & os.O_ACCMODE else flags


@dataclass
class _Durable:
    """A file's state at its last durable point: its length and the old bytes of each
    block changed since."""

    size: int
    blocks: dict[int, bytes] = field(default_factory=dict)
    writes: int = 0
    written: int = 0


@dataclass
class _Handle:
    fd: int
    sync: bool


class _ControlHandle:
    """The open control file: its writes are commands."""


class LossyFS(fuse.Fuse):  # type: ignore[misc]
    """The file system; one lock serialises the bookkeeping and the writes it guards."""

    def __init__(self, backing: Path, stats: Path, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.backing = str(backing)
        self.stats = stats
        self.mutex = threading.Lock()
        self.pending: dict[str, _Durable] = {}

    def _real(self, path: str) -> str:
        return self.backing + path

    # -- the memory of durable state ---------------------------------------------------
    def _keep(self, path: str | None, fd: int, start: int, end: int) -> None:
        """Before bytes [start, end) of ``path`` change: keep what they held when durable."""
        if path is None:  # unlinked while open: nothing of it can come back
            return
        state = self.pending.get(path)
        if state is None:
            state = self.pending[path] = _Durable(os.fstat(fd).st_size)
        for block in range(start // BLOCK, (min(end, state.size) - 1) // BLOCK + 1):
            if block not in state.blocks:
                state.blocks[block] = os.pread(fd, BLOCK, block * BLOCK)

    def _restore(self, path: str, state: _Durable) -> None:
        try:
            fd = os.open(self._real(path), os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            for block, data in state.blocks.items():
                os.pwrite(fd, data, block * BLOCK)
            os.ftruncate(fd, state.size)
        finally:
            os.close(fd)

    def _command(self, text: str) -> None:
        if text.strip() != "drop":
            raise OSError(errno.EINVAL, f"unknown command {text!r}")
        dropped = {
            "files": len(self.pending),
            "writes": sum(s.writes for s in self.pending.values()),
            "bytes": sum(s.written for s in self.pending.values()),
        }
        for path, state in self.pending.items():
            self._restore(path, state)
        self.pending.clear()
        self.stats.write_text(json.dumps(dropped))

    def _owned(self, real: str) -> None:
        """New files belong to the caller, as on a local file system."""
        ctx = self.GetContext()
        os.lchown(real, ctx["uid"], ctx["gid"])

    # -- files -------------------------------------------------------------------------
    def getattr(self, path: str) -> os.stat_result | fuse.Stat:
        if path == CONTROL:
            return fuse.Stat(st_mode=0o100222, st_nlink=1)
        return os.lstat(self._real(path))

    def fgetattr(self, path: str, fh: Any) -> os.stat_result | fuse.Stat:
        if isinstance(fh, _ControlHandle):
            return self.getattr(CONTROL)
        return os.fstat(fh.fd)

    def open(self, path: str, flags: int) -> _Handle | _ControlHandle:
        if path == CONTROL:
            return _ControlHandle()
        with self.mutex:
            if flags & os.O_TRUNC:
                fd = os.open(self._real(path), os.O_RDONLY)
                try:
                    self._keep(path, fd, 0, os.fstat(fd).st_size)
                finally:
                    os.close(fd)
            fd = os.open(self._real(path), _backing_flags(flags))
            return _Handle(fd, bool(flags & SYNC_FLAGS))

    def create(self, path: str, flags: int, mode: int) -> _Handle:
        real = self._real(path)
        with self.mutex:
            existed = os.path.lexists(real)
            if existed and flags & os.O_TRUNC:
                fd = os.open(real, os.O_RDONLY)
                try:
                    self._keep(path, fd, 0, os.fstat(fd).st_size)
                finally:
                    os.close(fd)
            fd = os.open(real, _backing_flags(flags) | os.O_CREAT, mode)
            handle = _Handle(fd, bool(flags & SYNC_FLAGS))
            if not existed:
                self._owned(real)
            return handle

    def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
        if isinstance(fh, _ControlHandle):
            return b""
        return os.pread(fh.fd, size, offset)

    def write(self, path: str | None, buf: bytes, offset: int, fh: Any) -> int:
        with self.mutex:
            if isinstance(fh, _ControlHandle):
                self._command(bytes(buf).decode())
                return len(buf)
            self._keep(path, fh.fd, offset, offset + len(buf))
            written = os.pwrite(fh.fd, buf, offset)
            if path is not None and fh.sync:
                self.pending.pop(path, None)
            elif path is not None:
                state = self.pending[path]
                state.writes += 1
                state.written += written
            return written

    def fsync(self, path: str | None, datasync: int, fh: Any) -> None:
        if path is not None and not isinstance(fh, _ControlHandle):
            with self.mutex:
                self.pending.pop(path, None)

    def flush(self, path: str | None, fh: Any) -> None:
        """close(): not a durability point."""

    def release(self, path: str | None, flags: int, fh: Any) -> None:
        if not isinstance(fh, _ControlHandle):
            os.close(fh.fd)

    def truncate(self, path: str, size: int) -> None:
        if path == CONTROL:
            return
        with self.mutex:
            fd = os.open(self._real(path), os.O_RDWR)
            try:
                self._truncate(path, fd, size)
            finally:
                os.close(fd)

    def ftruncate(self, path: str | None, size: int, fh: Any) -> None:
        if isinstance(fh, _ControlHandle):
            return
        with self.mutex:
            self._truncate(path, fh.fd, size)

    def _truncate(self, path: str | None, fd: int, size: int) -> None:
        self._keep(path, fd, size, max(size, os.fstat(fd).st_size))
        os.ftruncate(fd, size)
        if path is not None:
            self.pending[path].writes += 1

    # -- directories and names: durable at once ----------------------------------------
    def readdir(self, path: str, offset: int, *fh: Any) -> Iterator[fuse.Direntry]:
        for name in (".", "..", *os.listdir(self._real(path))):
            yield fuse.Direntry(name)

    def mkdir(self, path: str, mode: int) -> None:
        os.mkdir(self._real(path), mode)
        self._owned(self._real(path))

    def mknod(self, path: str, mode: int, dev: int) -> None:
        os.mknod(self._real(path), mode, dev)
        self._owned(self._real(path))

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, self._real(path))
        self._owned(self._real(path))

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    def link(self, target: str, path: str) -> None:
        os.link(self._real(target), self._real(path))

    def unlink(self, path: str) -> None:
        with self.mutex:
            os.unlink(self._real(path))
            self.pending.pop(path, None)

    def rmdir(self, path: str) -> None:
        os.rmdir(self._real(path))

    def rename(self, old: str, new: str) -> None:
        with self.mutex:
            os.rename(self._real(old), self._real(new))
            self.pending.pop(new, None)
            for path in [p for p in self.pending if p == old or p.startswith(old + "/")]:
                self.pending[new + path[len(old) :]] = self.pending.pop(path)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self._real(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.lchown(self._real(path), uid, gid)

    def utimens(self, path: str, atime: Any, mtime: Any) -> None:
        os.utime(
            self._real(path),
            ns=(atime.tv_sec * 10**9 + atime.tv_nsec, mtime.tv_sec * 10**9 + mtime.tv_nsec),
            follow_symlinks=False,
        )

    def access(self, path: str, mode: int) -> None:
        if path != CONTROL and not os.access(self._real(path), mode):
            raise OSError(errno.EACCES, path)

    def statfs(self) -> os.statvfs_result:
        return os.statvfs(self.backing)


def main(argv: list[str]) -> None:
    backing, mount, stats = (Path(a) for a in argv)
    fs = LossyFS(backing.resolve(), stats, dash_s_do="setsingle")
    options = "allow_other,hard_remove,big_writes,max_write=131072,fsname=lossyfs"
    fs.parse([str(mount), "-f", "-o", options], errex=1)
    with contextlib.suppress(KeyboardInterrupt):
        fs.main()


if __name__ == "__main__":
    main(sys.argv[1:])
