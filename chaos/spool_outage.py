"""A database outage with the spool: PostgreSQL stops while a process keeps appending
through a spool-enabled ledger; that process is SIGKILLed during the outage and another
takes over the same spool; the database comes back. Every acknowledged write is stored
once, in the order it was acknowledged, and the spool ends empty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from agentledger import Ledger
from agentledger.db.spool import Spool
from chaos.common import OwnServer, Result, own_server

NAME = "Database outage with the spool"
METHOD = (
    "a writer process appends numbered events (ids derived from the number) to one stream "
    "through a ledger with a spool; PostgreSQL is stopped, the writer SIGKILLed mid-outage, "
    "a second writer continues from the last acknowledged number on the same spool, "
    "PostgreSQL restarts (full run: 5,000 writes acknowledged in an outage of 60 s); then "
    "the stream is read as the owner and the spool inspected; the spool must be drained "
    "within 30 s of the restart"
)
ROOT = Path(__file__).resolve().parents[1]


class Writer:
    def __init__(self, own: OwnServer, spool: Path, tenant: str, first: int, last: int) -> None:
        self.acked: list[int] = []
        self.spooled = 0
        self.done: str | None = None
        self.done_at = 0.0
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chaos.spool_writer",
                own.url,
                str(own.dir / "data"),
                str(spool),
                tenant,
                str(first),
                str(last),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if parts and parts[0] == "ack":
                self.acked.append(int(parts[1]))
                self.spooled += parts[2] == "spooled"
            elif parts and parts[0] == "done":
                self.done = line.strip()
                self.done_at = time.monotonic()

    def wait_acks(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            if time.monotonic() > deadline or (
                self.proc.poll() is not None and not self.reader.is_alive()
            ):
                raise RuntimeError(f"the writer acknowledged {len(self.acked)} of {n}")
            time.sleep(0.02)


def run(quick: bool) -> Result:
    # Writes before the outage, during it (half from each writer), after it; the outage's
    # length (full run: PostgreSQL stays down 60 s whatever the writers have done).
    before, during, after, outage = (15, 25, 15, 0.0) if quick else (100, 5000, 100, 60.0)
    result = Result(NAME, METHOD)
    with own_server() as own:
        tenant = f"sp-{uuid.uuid4().hex[:6]}"
        with Ledger(own.settings(), migrate=False) as ledger:
            ledger.tenants.create(tenant)
        spool = own.dir / "spool"
        first = Writer(own, spool, tenant, 1, 100_000)
        first.wait_acks(before)
        own.stop()
        stopped = time.monotonic()
        result.faults += 1
        first.wait_acks(before + during // 2)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        first.reader.join(5)
        result.faults += 1
        last = max(first.acked)
        rest = before + during - len(first.acked)  # the outage's writes still to come
        second = Writer(own, spool, tenant, last + 1, last + max(rest, 0) + after)
        second.wait_acks(max(rest, after))
        time.sleep(max(0.0, stopped + outage - time.monotonic()))
        down_for = time.monotonic() - stopped
        own.restart()
        restarted = time.monotonic()
        second.proc.wait(300)
        second.reader.join(5)
        drained_in = second.done_at - restarted if second.done_at else None
        status = Spool(spool).status()
        with own.owner() as conn:
            rows = conn.execute(
                "SELECT (payload->>'seq')::int, version FROM agentledger.events "
                "WHERE tenant_id = %s AND stream = 'ordered' ORDER BY version",
                (tenant,),
            ).fetchall()
    acked = first.acked + second.acked
    seqs = [r[0] for r in rows]
    result.operations = last + max(rest, 0) + after
    result.acknowledged = len(acked)
    result.lost = len(set(acked) - set(seqs))
    result.duplicated = len(seqs) - len(set(seqs))
    in_order = seqs == sorted(seqs)
    contiguous = [r[1] for r in rows] == list(range(1, len(rows) + 1))
    result.details = {
        "acked_by_killed_writer": len(first.acked),
        "acked_by_second_writer": len(second.acked),
        "acked_into_spool": first.spooled + second.spooled,
        "stored": len(rows),
        "unacknowledged_stored": len(set(seqs) - set(acked)),
        "spool_pending": status.pending,
        "spool_dead": status.dead,
        "second_writer": second.done,
        "second_writer_exit": second.proc.returncode,
        "database_down_s": round(down_for, 1),
        "drained_after_restart_s": round(drained_in, 1) if drained_in is not None else None,
    }
    return result.decide(
        "" if in_order else "order not kept",
        "" if contiguous else "versions not contiguous",
        "" if status.pending == 0 and status.dead == 0 else "spool not empty",
        "" if second.proc.returncode == 0 else "the second writer failed",
        "" if drained_in is not None and drained_in <= 30 else f"drained in {drained_in} s",
    )
