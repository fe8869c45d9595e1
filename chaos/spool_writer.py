"""A writing process for the spool outage: ``python -m chaos.spool_writer URL DATA_DIR
SPOOL_DIR TENANT FIRST LAST``.

Appends events ``FIRST..LAST`` to one stream, each with an id derived from its sequence
number, and prints ``ack N`` once the write is stored or spooled (acknowledged); at the
end it replays what the spool still holds and prints ``done PENDING DEAD``.
"""

from __future__ import annotations

import sys
import time
import uuid

from agentledger import Ledger, Settings, Spooled

NAMESPACE = uuid.UUID("6f1c1f4e-7d0b-4c55-9d44-6a7c2b0c9a11")
STREAM = "ordered"


def event_id(seq: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, str(seq))


def main() -> None:
    url, data_dir, spool_dir, tenant, first, last = sys.argv[1:7]
    settings = Settings.build(
        database_url=url,
        data_dir=data_dir,
        spool_dir=spool_dir,
        pool_timeout=0.5,
        connect_timeout=1,
        retry_attempts=2,
        retry_backoff=0.05,
    )
    with Ledger(settings, migrate=False) as ledger:
        events = ledger.tenant(tenant).events
        for seq in range(int(first), int(last) + 1):
            try:
                events.append(STREAM, "Wrote", {"seq": seq}, event_id=event_id(seq))
                how = "stored"
            except Spooled:
                how = "spooled"
            print(f"ack {seq} {how}", flush=True)
            time.sleep(0.01)
        while True:  # the database may still be down: wait for it, then drain the spool
            try:
                ledger.replay_spool()
                status = ledger.spool_status()
                if status is not None and status.pending == 0:
                    break
            except Exception:  # still down
                pass
            time.sleep(0.2)
        status = ledger.spool_status()
        assert status is not None
        print(f"done {status.pending} {status.dead}", flush=True)


if __name__ == "__main__":
    main()
