"""Lost unsynced writes (a power loss: whatever the OS had not written to the device is
gone). Faithful only with a block device or file system that can drop unsynced writes on
demand (device-mapper's dm-flakey or dm-log-writes, or LazyFS); a killed process, as in
the other scenarios, loses nothing the OS already holds."""

from __future__ import annotations

import shutil
from pathlib import Path

from chaos.common import NotRun, Result

NAME = "Lost unsynced writes (power loss)"
METHOD = (
    "would run PostgreSQL on a device that drops every write not yet fsync'd at a chosen "
    "moment, then check acknowledged commits survive"
)


def run(quick: bool) -> Result:
    devices = Path("/proc/devices").read_text()
    if "device-mapper" not in devices and shutil.which("lazyfs") is None:
        raise NotRun(
            "no device-mapper (dm-flakey, dm-log-writes) in this kernel and no LazyFS: "
            "nothing here can drop the OS's unsynced writes; a SIGKILL does not lose them"
        )
    raise NotRun(
        "a device that drops unsynced writes exists here, but this scenario is not written yet"
    )
