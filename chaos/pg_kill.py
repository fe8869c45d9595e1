"""PostgreSQL killed under load: clients across tenants append events, upsert memory and
enqueue, claim and complete tasks, each write carrying a client-made id, while the
postmaster is SIGKILLed at random moments and restarted.

Afterwards, read as the owner: every acknowledged write is stored, no id is stored twice,
every stream's versions run 1..n without a gap, and the rows are exactly writes that were
attempted (an unacknowledged write appears at most once)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentledger import Conflict, Ledger, Unavailable
from chaos.common import OwnServer, Result, own_server

NAME = "PostgreSQL killed under load"
METHOD = (
    "client threads, each with its own pool, across tenants: events with event ids, memory "
    "upserts by key, tasks enqueued by dedup key then claimed and completed; kill -9 of the "
    "postmaster at random moments, restart, clients retry with the same ids; then every row "
    "read back as the owner"
)


@dataclass
class Client:
    """What one client did: every id it tried, and those acknowledged."""

    index: int
    tenant: str
    events_tried: set[str] = field(default_factory=set)
    events_acked: set[str] = field(default_factory=set)
    memory_tried: dict[str, set[int]] = field(default_factory=dict)  # key -> attempted n
    memory_acked: dict[str, set[int]] = field(default_factory=dict)
    tasks_tried: set[str] = field(default_factory=set)
    tasks_acked: set[str] = field(default_factory=set)  # dedup keys enqueued
    completed_acked: set[int] = field(default_factory=set)
    operations: int = 0
    unacknowledged: int = 0
    errors: list[str] = field(default_factory=list)


def _retry(stop_by: float, fn: Any) -> tuple[bool, Any]:
    """Call ``fn`` until it returns (acknowledged) or the deadline passes."""
    while True:
        try:
            return True, fn()
        except Unavailable:
            if time.monotonic() > stop_by:
                return False, None
            time.sleep(0.1)


def _work(own: OwnServer, client: Client, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    settings = own.settings(pool_max_size=2, pool_min_size=0)
    queue = f"q-{client.index}"
    try:
        with Ledger(settings, migrate=False) as ledger:
            scope = ledger.tenant(client.tenant)
            n = 0
            while not stop.is_set():
                n += 1
                client.operations += 1
                choice = rng.random()
                limit = time.monotonic() + 90
                if choice < 0.45:
                    eid = str(uuid.uuid4())
                    client.events_tried.add(eid)
                    stream = f"stream-{rng.randrange(4)}"
                    ok, _ = _retry(
                        limit,
                        lambda s=stream, e=eid, i=n: scope.events.append(
                            s, "Wrote", {"n": i, "client": client.index}, event_id=e
                        ),
                    )
                    if ok:
                        client.events_acked.add(eid)
                elif choice < 0.75:
                    key = f"k-{client.index}-{rng.randrange(20)}"
                    client.memory_tried.setdefault(key, set()).add(n)
                    ok, _ = _retry(
                        limit,
                        lambda k=key, i=n: scope.memory.upsert(
                            "thing", k, key=k, source="chaos", attrs={f"v{i}": i}
                        ),
                    )
                    if ok:
                        client.memory_acked.setdefault(key, set()).add(n)
                else:
                    dedup = f"task-{client.index}-{n}"
                    client.tasks_tried.add(dedup)
                    ok, _ = _retry(
                        limit,
                        lambda d=dedup, i=n: scope.tasks.enqueue(queue, {"n": i}, dedup_key=d),
                    )
                    if ok:
                        client.tasks_acked.add(dedup)
                        _settle_one(scope, queue, client, limit)
                if not ok:
                    client.unacknowledged += 1
            # Drain: whatever is still queued (a claim whose answer was lost) gets completed.
            drain_by = time.monotonic() + 90
            while time.monotonic() < drain_by:
                try:
                    if not _unfinished(scope, queue):
                        break
                except Unavailable:
                    time.sleep(0.2)
                    continue
                _settle_one(scope, queue, client, drain_by)
    except Exception as exc:  # reported in the row, never swallowed
        client.errors.append(f"{type(exc).__name__}: {exc}")


def _unfinished(scope: Any, queue: str) -> int:
    depths = scope.tasks.depth(queue)
    return sum(d.ready + d.scheduled + d.running + d.expired for d in depths)


def _settle_one(scope: Any, queue: str, client: Client, stop_by: float) -> None:
    """Claim a task of this client's queue and complete it; a lost claim is retaken once its
    short lease expires."""
    while time.monotonic() < stop_by:
        ok, claimed = _retry(stop_by, lambda: scope.tasks.claim(queue, limit=1, lease=2.0))
        if not ok:
            return
        if not claimed:
            time.sleep(0.2)
            continue
        task = claimed[0]
        try:
            ok, done = _retry(stop_by, lambda t=task: scope.tasks.complete(t, {"n": t.input["n"]}))
        except Conflict:
            continue  # the lease expired meanwhile: claim again
        if ok:
            client.completed_acked.add(done.id)
        return


def run(quick: bool) -> Result:
    cycles, clients, tenants = (2, 4, 2) if quick else (10, 32, 10)
    rng = random.Random(11)
    with own_server() as own:

        def crash() -> None:
            own.kill9()
            time.sleep(rng.uniform(0.2, 1.0))
            own.restart()

        return under_load(
            own,
            Result(NAME, METHOD),
            cycles=cycles,
            clients=clients,
            tenants=tenants,
            crash=crash,
            rng=rng,
        )


def under_load(
    own: OwnServer,
    result: Result,
    *,
    cycles: int,
    clients: int,
    tenants: int,
    crash: Callable[[], None],
    rng: random.Random,
) -> Result:
    """Client threads write while ``crash`` (which must leave the server running again) is
    called ``cycles`` times at random moments; then every row is checked. Counts land in
    ``result``, decided."""
    with Ledger(own.settings(), migrate=False) as ledger:
        names = [f"t{i}-{uuid.uuid4().hex[:6]}" for i in range(tenants)]
        for name in names:
            ledger.tenants.create(name)
    work = [Client(i, names[i % tenants]) for i in range(clients)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_work, args=(own, c, stop, 100 + c.index), daemon=True)
        for c in work
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(cycles):
            time.sleep(rng.uniform(0.8, 2.5))
            crash()
            result.faults += 1
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=240)
    hung = sum(t.is_alive() for t in threads)
    found = _check(own, work)
    result.operations = sum(c.operations for c in work)
    result.acknowledged = sum(
        len(c.events_acked)
        + sum(len(v) for v in c.memory_acked.values())
        + len(c.tasks_acked)
        + len(c.completed_acked)
        for c in work
    )
    result.lost = found["lost"]
    result.duplicated = found["duplicated"]
    result.details = {
        **result.details,
        **found,
        "unacknowledged": sum(c.unacknowledged for c in work),
        "client_errors": [e for c in work for e in c.errors][:5],
    }
    return result.decide(
        f"{hung} clients hung" if hung else "",
        "client errors" if result.details["client_errors"] else "",
        f"{found['gaps']} streams with version gaps" if found["gaps"] else "",
        f"{found['phantoms']} rows never written" if found["phantoms"] else "",
        f"{found['unfinished']} tasks not completed" if found["unfinished"] else "",
    )


def _check(own: OwnServer, work: list[Client]) -> dict[str, int]:
    with own.owner() as conn:
        events = conn.execute(
            "SELECT event_id::text, tenant_id, stream, version FROM agentledger.events"
        ).fetchall()
        entities = conn.execute(
            "SELECT key, attrs FROM agentledger.memory_entities WHERE source = 'chaos'"
        ).fetchall()
        tasks = conn.execute(
            "SELECT id, dedup_key, status FROM agentledger.tasks WHERE queue LIKE 'q-%'"
        ).fetchall()
    lost = duplicated = phantoms = gaps = unfinished = 0
    event_ids = [row[0] for row in events]
    duplicated += len(event_ids) - len(set(event_ids))
    stored_events = set(event_ids)
    tried_events = set().union(*(c.events_tried for c in work))
    lost += sum(len(c.events_acked - stored_events) for c in work)
    phantoms += len(stored_events - tried_events)
    versions: dict[tuple[str, str], list[int]] = {}
    for _, tenant, stream, version in events:
        versions.setdefault((tenant, stream), []).append(version)
    gaps = sum(sorted(v) != list(range(1, len(v) + 1)) for v in versions.values())

    keys = [row[0] for row in entities]
    duplicated += len(keys) - len(set(keys))
    attrs = {row[0]: row[1] for row in entities}
    for c in work:
        for key, acked in c.memory_acked.items():
            stored = attrs.get(key, {})
            lost += sum(f"v{n}" not in stored for n in acked)
        for key, tried in c.memory_tried.items():
            phantoms += sum(int(k[1:]) not in tried for k in attrs.get(key, {}))

    dedups = [row[1] for row in tasks]
    duplicated += len(dedups) - len(set(dedups))
    stored_tasks = set(dedups)
    status = {row[0]: row[2] for row in tasks}
    tried_tasks = set().union(*(c.tasks_tried for c in work))
    for c in work:
        lost += len(c.tasks_acked - stored_tasks)
        lost += sum(status.get(tid) != "completed" for tid in c.completed_acked)
    phantoms += len(stored_tasks - tried_tasks)
    unfinished = sum(s != "completed" for s in status.values())
    return {
        "lost": lost,
        "duplicated": duplicated,
        "phantoms": phantoms,
        "gaps": gaps,
        "unfinished": unfinished,
        "events": len(events),
        "entities": len(entities),
        "tasks": len(tasks),
    }
