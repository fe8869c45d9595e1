"""Commit reordering: writers hold their transactions open for random times after
appending, so later positions commit before earlier ones; a follower tailing the feed must
still see every committed event exactly once."""

from __future__ import annotations

import random
import threading
import time
import uuid

from agentledger import Ledger
from chaos.common import Result, own_server

NAME = "Commit reordering"
METHOD = (
    "writer threads append 1-3 events (streams in sorted order) in a transaction and "
    "sleep 0-50 ms before committing (positions commit out of order), a second tenant "
    "writes alongside; one follower (scope.follow) tails the tenant; its set compared "
    "with the table's"
)


def run(quick: bool) -> Result:
    writers, per_writer = (8, 25) if quick else (64, 40)
    result = Result(NAME, METHOD)
    with own_server(durable=False) as own:
        tenant, other = f"ro-{uuid.uuid4().hex[:6]}", f"rx-{uuid.uuid4().hex[:6]}"
        settings = own.settings(pool_max_size=writers + 4, pool_timeout=30)
        with Ledger(settings, migrate=False) as ledger:
            ledger.tenants.create(tenant)
            ledger.tenants.create(other)
            acked: list[str] = []
            lock = threading.Lock()
            errors: list[str] = []
            done = threading.Event()

            def write(w: int) -> None:
                rng = random.Random(w)
                for i in range(per_writer):
                    main = rng.random() >= 0.2
                    scope = ledger.tenant(tenant if main else other)
                    ids = [str(uuid.uuid4()) for _ in range(rng.randint(1, 3))]
                    # Streams in a consistent (sorted) order: appends in one transaction lock
                    # their streams in call order, so two transactions taking the same
                    # streams in opposite orders would deadlock (the application's order).
                    streams = sorted(f"s-{rng.randrange(6)}" for _ in ids)
                    delay = rng.uniform(0, 0.05)
                    try:
                        with scope.transaction() as tx:
                            for eid, stream in zip(ids, streams, strict=True):
                                payload = {"w": w, "i": i}
                                tx.events.append(stream, "Wrote", payload, event_id=eid)
                            time.sleep(delay)
                    except Exception as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        result.faults += 1  # a transaction held open past later appends
                        if main:
                            acked.extend(ids)
                        result.operations += len(ids)

            seen: list[str] = []

            def follow() -> None:
                with ledger.tenant(tenant).follow(after=0, poll_interval=0.05) as follower:
                    idle = 0
                    while idle < 3:
                        batch = follower.next_batch(0.3)
                        seen.extend(str(e.event_id) for e in batch)
                        idle = idle + 1 if done.is_set() and not batch else 0

            follower = threading.Thread(target=follow)
            follower.start()
            threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            done.set()
            follower.join(120)
        with own.owner() as conn:
            stored = [
                str(r[0])
                for r in conn.execute(
                    "SELECT event_id FROM agentledger.events WHERE tenant_id = %s", (tenant,)
                )
            ]
    seen_set, stored_set = set(seen), set(stored)
    result.acknowledged = len(acked)
    result.lost = len(stored_set - seen_set) + len(set(acked) - stored_set)
    result.duplicated = len(seen) - len(seen_set)
    result.leaked = len(seen_set - stored_set)  # another tenant's, or never committed
    result.details = {"followed": len(seen), "stored": len(stored), "errors": errors[:3]}
    return result.decide("writer errors" if errors else "")
