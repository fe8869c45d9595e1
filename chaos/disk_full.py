"""Disk full: PostgreSQL's data directory on a small tmpfs that fills up under writes.
Writes that cannot be stored fail with Unavailable (never a raw driver error, never a
false acknowledgement); once space is freed (and the server restarted if it stopped),
every acknowledged write is there once and new writes succeed."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from agentledger import Ledger, LedgerError, Unavailable
from chaos.common import NotRun, OwnServer, Result, own_server

NAME = "Disk full"
METHOD = (
    "PostgreSQL (durable) on a 192 MB tmpfs, a ballast file leaving ~24 MB free; events "
    "with 64 KB payloads and ids appended until 30 writes in a row fail; ballast removed, "
    "server restarted if it went down; acknowledged events checked, a new write made"
)
SIZE_MB, FREE_MB = 192, 24


@contextlib.contextmanager
def _tmpfs() -> Iterator[Path]:
    if os.geteuid() != 0:
        raise NotRun("mounting a small file system needs root")
    mount = Path(tempfile.mkdtemp(prefix="al-chaos-disk-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mount.rmdir()
        raise NotRun(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        with contextlib.suppress(OSError):
            mount.rmdir()


def _free_mb(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 2**20


def run(quick: bool) -> Result:
    result = Result(NAME, METHOD)
    with _tmpfs() as mount, own_server(base=mount, fresh=True) as own:
        tenant = f"df-{uuid.uuid4().hex[:6]}"
        with Ledger(own.settings(), migrate=False) as ledger:
            ledger.tenants.create(tenant)
        ballast = mount / "ballast"
        with ballast.open("wb") as fh:
            fh.write(b"\0" * int(max(0.0, _free_mb(mount) - FREE_MB) * 2**20))
        acked: list[str] = []
        errors: dict[str, int] = {}
        first_error = ""
        settings = own.settings(retry_attempts=1, pool_timeout=2.0)
        with Ledger(settings, migrate=False) as ledger:
            events = ledger.tenant(tenant).events
            failures_in_a_row = 0
            deadline = time.monotonic() + 120
            while failures_in_a_row < 30 and time.monotonic() < deadline:
                eid = str(uuid.uuid4())
                result.operations += 1
                try:
                    blob = base64.b64encode(os.urandom(49_152)).decode()  # incompressible
                    events.append("fill", "Big", {"blob": blob}, event_id=eid)
                except LedgerError as exc:
                    name = type(exc).__name__
                    errors[name] = errors.get(name, 0) + 1
                    first_error = first_error or str(exc)[:300]
                    failures_in_a_row += 1
                    continue
                except Exception as exc:  # a raw error escaping the ledger is a finding
                    name = f"raw {type(exc).__name__}"
                    errors[name] = errors.get(name, 0) + 1
                    failures_in_a_row += 1
                    continue
                acked.append(eid)
                failures_in_a_row = 0
        result.faults = sum(errors.values())
        ballast.unlink()
        down = not own.server.status().running
        if down:
            own.restart()
        recovered = _recovers(own, tenant)
        with own.owner() as conn:
            stored = [
                str(r[0])
                for r in conn.execute(
                    "SELECT event_id FROM agentledger.events WHERE tenant_id = %s AND "
                    "stream = 'fill'",
                    (tenant,),
                )
            ]
    result.acknowledged = len(acked)
    result.lost = len(set(acked) - set(stored))
    result.duplicated = len(stored) - len(set(stored))
    raw = sum(n for name, n in errors.items() if name.startswith("raw "))
    # A full disk is the server's passing trouble: Unavailable (503, spoolable), never a
    # generic error carrying the server's file paths.
    other = sum(
        n for name, n in errors.items() if name != "Unavailable" and not name.startswith("raw ")
    )
    result.details = {
        "errors_while_full": errors,
        "first_error": first_error,
        "server_went_down": down,
        "stored": len(stored),
        "writes_after_recovery": recovered,
    }
    return result.decide(
        "the disk never filled" if not errors else "",
        f"{raw} raw driver errors" if raw else "",
        f"{other} errors other than Unavailable" if other else "",
        "" if recovered else "no write succeeded after space was freed",
    )


def _recovers(own: OwnServer, tenant: str) -> bool:
    deadline = time.monotonic() + 60
    with Ledger(own.settings(), migrate=False) as ledger:
        while time.monotonic() < deadline:
            try:
                ledger.tenant(tenant).events.append("after", "Recovered", {})
                return True
            except Unavailable:
                time.sleep(0.5)
    return False
