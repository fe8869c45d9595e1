"""The task queue at its edges: a platform worker outlives a tenant's suspension, a
deduplicated enqueue racing completions returns a task, a claim is not used up by rescues
that go dead, the platform's claim leaves addressed tasks alone, and dead letters whose
dedup key a live task holds stay dead without stopping the others."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator
from typing import Any

import psycopg
import pytest

from agentledger import Conflict, Ledger, NewTask, Settings, Task
from agentledger.db.statements import Gen, Op, Stmt, operation
from agentledger.ledger import TenantScope
from agentledger.tasks import ops
from tests.conftest import new_tenant
from tests.faces import handler_for
from tests.races import at_once


def _queue(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _expire(database_url: str, tenant: str, ids: list[int]) -> None:
    """The leases of these running tasks ran out (their workers died)."""
    with psycopg.connect(database_url) as owner:
        owner.execute(
            "UPDATE agentledger.tasks SET lease_expires_at = now() - interval '1 second' "
            "WHERE tenant_id = %s AND id = ANY(%s)",
            (tenant, ids),
        )


def _doomed(ledger: Ledger, tenant: str, queue: str, count: int, database_url: str) -> list[int]:
    """``count`` tasks of ``queue`` running their last attempt under leases that ran out:
    the next claim that reaches them buries them. Their ids."""
    tasks = ledger.tenant(tenant).tasks
    tasks.enqueue_many(queue, [NewTask(max_attempts=1, input={"n": n}) for n in range(count)])
    held = tasks.claim(queue, limit=count)
    assert len(held) == count
    ids = sorted(t.id for t in held)
    _expire(database_url, tenant, ids)
    return ids


# -- 1. a platform worker and a tenant that cannot be written any more ---------------------


def test_a_platform_worker_settles_the_others_when_a_tenant_is_suspended(
    ledger: Ledger, sync_ledger: Ledger
) -> None:
    queue = _queue("ps")
    frozen, other = new_tenant(ledger), new_tenant(ledger)
    for tid in (frozen, other):
        ledger.tenant(tid).tasks.enqueue_many(queue, [{"i": i} for i in range(10)])
    suspended: list[int] = []

    def handle(task: Task) -> dict[str, Any]:
        if task.tenant_id == frozen and not suspended:
            sync_ledger.tenants.suspend(frozen)  # an operator, while the task runs
            suspended.append(task.id)
        return {"by": "platform"}

    worker = ledger.platform_tasks.worker(
        queue, handler_for(ledger, handle), concurrency=4, poll_interval=0.05, lease=1.0
    )
    stats = worker.run(until_empty=True)  # returns: the suspension does not end it
    assert suspended
    done = ledger.tenant(other).tasks.list(queue=queue, status="completed")
    assert len(done) == 10 and all(t.output == {"by": "platform"} for t in done)
    assert stats.completed >= 10 and stats.refused >= 1  # the frozen tenant's, dropped
    # Nothing of the suspended tenant was lost: once active, its tasks run again.
    sync_ledger.tenants.activate(frozen)
    time.sleep(1.5)  # the dropped tasks' leases run out
    ledger.platform_tasks.worker(
        queue, handler_for(ledger, handle), concurrency=4, poll_interval=0.05
    ).run(until_empty=True)
    statuses = Counter(t.status for t in ledger.tenant(frozen).tasks.list(queue=queue))
    assert statuses == {"completed": 10}


# -- 2. a deduplicated enqueue racing the key's holders -----------------------------------


@operation(idempotent=False)
def _interleaved(inner: Op[Task], hooks: list[Callable[[], None]]) -> Gen[Task]:
    """``inner``'s statements, in its transaction, with ``hooks[i]`` run (on other
    connections, committed) after statement ``i`` has answered."""
    steps: Generator[Stmt, Any, Task] = inner.start()
    stmt = next(steps)
    for i in range(100):
        result = yield stmt
        if i < len(hooks):
            hooks[i]()
        try:
            stmt = steps.send(result)
        except StopIteration as stop:
            done: Task = stop.value
            return done
    raise AssertionError("too many statements")


def test_an_enqueue_whose_key_is_taken_again_after_the_look_up_returns_the_holder(
    sync_ledger: Ledger,
) -> None:
    """The key's holder completes between the insert and the look-up, and a new holder
    takes the key before the insert is tried again: the enqueue returns the new holder."""
    tenant_id = new_tenant(sync_ledger)
    tasks = sync_ledger.tenant(tenant_id).tasks
    queue = _queue("dd")
    first = tasks.enqueue(queue, {"n": 1}, dedup_key="k")
    [held] = tasks.claim(queue)
    taken: list[Task] = []

    def holder_completes() -> None:  # after the insert found the key held
        tasks.complete(held)

    def another_takes_the_key() -> None:  # after the look-up found no holder
        taken.append(tasks.enqueue(queue, {"n": 3}, dedup_key="k"))

    op = _interleaved(
        ops.enqueue(queue, {"n": 2}, dedup_key="k"), [holder_completes, another_takes_the_key]
    )
    got = sync_ledger.tenant(tenant_id)._run(op)
    assert got.id == taken[0].id != first.id and got.input == {"n": 3}
    assert [t.id for t in tasks.list(queue=queue, status="pending")] == [got.id]


def test_enqueues_of_one_key_racing_its_completion_always_return_a_task(
    settings: Settings,
) -> None:
    """Real connections: enqueuers of one dedup key while workers claim and complete it."""
    with Ledger(settings, migrate=False) as admin:
        tid = new_tenant(admin)
    queue = _queue("dd")
    stop = threading.Event()
    failures: list[BaseException] = []
    returned = Counter[str]()

    def enqueuer() -> None:
        with Ledger(settings.with_(pool_max_size=2), migrate=False) as own:
            tasks = own.tenant(tid).tasks
            while not stop.is_set():
                try:
                    task = tasks.enqueue(queue, {"k": 1}, dedup_key="same")
                except Exception as exc:  # the outcome the test inspects
                    failures.append(exc)
                else:
                    returned[task.status] += 1

    def worker() -> None:
        with Ledger(settings.with_(pool_max_size=2), migrate=False) as own:
            tasks = own.tenant(tid).tasks
            while not stop.is_set():
                for task in tasks.claim(queue, limit=5):
                    tasks.complete(task)

    def stop_later() -> None:
        time.sleep(3)
        stop.set()

    at_once(*([enqueuer] * 4), worker, worker, stop_later)
    assert failures == []
    assert sum(returned.values()) > 100 and set(returned) <= {"pending", "running"}


# -- 3. rescues on their last attempt take no place of a claim ----------------------------


def test_a_claim_takes_ready_work_past_rescues_that_go_dead(
    ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    scope = ledger.tenant(tenant_id)
    queue = _queue("el")
    doomed = _doomed(ledger, tenant_id, queue, 3, database_url)
    scope.tasks.enqueue_many(queue, [{"fresh": i} for i in range(5)])
    [first] = scope.tasks.claim(queue, limit=1)
    assert first.input == {"fresh": 0} and first.status == "running"
    assert [t.input for t in scope.tasks.claim(queue, limit=2)] == [{"fresh": 1}, {"fresh": 2}]
    assert sorted(t.id for t in scope.tasks.dead_letters(queue)) == doomed
    assert {t.error for t in scope.tasks.dead_letters(queue)} == {
        "lease expired after the last attempt"
    }


def test_a_worker_run_until_empty_gets_past_rescues_that_go_dead(
    ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    scope = ledger.tenant(tenant_id)
    queue = _queue("el")
    _doomed(ledger, tenant_id, queue, 3, database_url)
    scope.tasks.enqueue_many(queue, [{"fresh": i} for i in range(5)])
    seen: list[dict[str, Any]] = []
    worker = scope.tasks.worker(
        queue, handler_for(ledger, lambda t: seen.append(t.input)), concurrency=1
    )
    assert worker.run(until_empty=True).completed == 5
    assert sorted(s["fresh"] for s in seen) == list(range(5))
    [depth] = scope.tasks.depth(queue)
    assert (depth.ready, depth.expired, depth.dead) == (0, 0, 3)


def test_a_platform_claim_takes_ready_work_past_rescues_that_go_dead(
    ledger: Ledger, database_url: str
) -> None:
    queue = _queue("fel")
    tid = new_tenant(ledger)
    scope = ledger.tenant(tid)
    doomed = _doomed(ledger, tid, queue, 3, database_url)
    scope.tasks.enqueue_many(queue, [{"fresh": i} for i in range(5)])
    [first] = ledger.platform_tasks.claim(queue, limit=1)
    assert first.input == {"fresh": 0} and first.tenant_id == tid
    assert [t.id for t in scope.tasks.dead_letters(queue)] == doomed[:1]
    more = ledger.platform_tasks.claim(queue, limit=3)
    assert sorted(t.input["fresh"] for t in more) == [1, 2, 3]
    assert len({t.claim_token for t in more}) == 1  # one claim, one token
    assert sorted(t.id for t in scope.tasks.dead_letters(queue)) == doomed


# -- 4. the platform's claim and tasks addressed to an agent ------------------------------


def test_a_platform_claim_leaves_tasks_addressed_to_an_agent(ledger: Ledger) -> None:
    queue = _queue("fa")
    addressed, plain = new_tenant(ledger), new_tenant(ledger)
    ledger.tenant(addressed).tasks.enqueue_many(
        queue, [NewTask(input={"i": i}, agent_name="bob") for i in range(4)]
    )
    ledger.tenant(plain).tasks.enqueue_many(queue, [{"i": i} for i in range(4)])
    claimed = ledger.platform_tasks.claim(queue, limit=4)
    # The tenant with only addressed work is not counted in the shares either.
    assert [(t.tenant_id, t.agent_name) for t in claimed] == [(plain, None)] * 4
    assert ledger.platform_tasks.claim(queue, limit=4) == []
    assert [t.agent_name for t in ledger.tenant(addressed).tasks.claim(queue, agent="bob")] == [
        "bob"
    ]


# -- 5. dead letters whose dedup key a live task holds ------------------------------------


def _dead_with_key(scope: TenantScope, queue: str, key: str | None, n: int = 0) -> Task:
    task = scope.tasks.enqueue(queue, {"n": n}, dedup_key=key, max_attempts=1)
    [claimed] = [t for t in scope.tasks.claim(queue, limit=10) if t.id == task.id]
    return scope.tasks.fail(claimed, "boom")


def test_redriving_a_dead_task_whose_key_a_live_task_holds_names_the_holder(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    queue = _queue("rd")
    old = _dead_with_key(scope, queue, "order-17")
    others = [_dead_with_key(scope, queue, None, n).id for n in range(3)]
    new = scope.tasks.enqueue(queue, {"v": 2}, dedup_key="order-17")  # the key is free again
    with pytest.raises(Conflict, match=f"unfinished task {new.id} holds its dedup_key") as info:
        scope.tasks.redrive(old.id)
    assert info.value.field == "task_id" and info.value.detail["held_by"] == new.id
    assert scope.tasks.get(old.id).status == "dead"  # nothing changed
    redriven = scope.tasks.redrive_queue(queue)
    assert redriven.ids == others and redriven.held == {old.id: new.id}
    assert len(redriven) == 3 and list(redriven) == others
    assert [t.id for t in scope.tasks.dead_letters(queue)] == [old.id]
    assert {scope.tasks.get(i).status for i in others} == {"pending"}
    # Once the holder is done, the dead task runs again.
    [held] = [t for t in scope.tasks.claim(queue, limit=10) if t.id == new.id]
    scope.tasks.complete(held)
    again = scope.tasks.redrive_queue(queue)
    assert (again.ids, again.held) == ([old.id], {})


def test_redriving_a_queue_sends_back_one_of_the_dead_tasks_sharing_a_key(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    queue = _queue("rd")
    first, second = (_dead_with_key(scope, queue, "same", n) for n in range(2))
    redriven = scope.tasks.redrive_queue(queue)
    assert (redriven.ids, redriven.held) == ([first.id], {second.id: first.id})
    assert scope.tasks.get(second.id).status == "dead"
