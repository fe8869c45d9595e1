"""Workers on both faces, platform (cross-tenant) claims, and claims under real concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from agentledger import AsyncLedger, Conflict, Ledger, Settings, Task
from tests.faces import AsyncFace, handler_for


def _boom_on_odd(task: Task) -> dict[str, Any]:
    if task.input["i"] % 2:
        raise ValueError(f"odd {task.input['i']}")
    return {"double": task.input["i"] * 2}


def test_worker_runs_handlers_until_empty(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue_many("w", [{"i": i, "max": 1} for i in range(30)])
    from agentledger import NewTask

    tasks.enqueue_many("w", [NewTask(input={"i": 101}, max_attempts=1)])
    worker = tasks.worker("w", handler_for(ledger, _boom_on_odd), concurrency=4, poll_interval=0.05)
    stats = worker.run(until_empty=True)
    assert stats.completed == 15
    done = tasks.list(queue="w", status="completed", limit=100)
    assert sorted((t.output or {})["double"] for t in done) == [i * 2 for i in range(0, 30, 2)]
    [dead] = tasks.list(queue="w", status="dead")
    assert dead.input == {"i": 101} and "ValueError: odd 101" in (dead.error or "")
    failed = tasks.list(queue="w", status="pending", limit=100)
    assert len(failed) == 15 and all(t.attempts == 1 and t.error for t in failed)


def test_worker_refuses_a_non_dict_result(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    task = tasks.enqueue("nd", max_attempts=1)
    tasks.worker("nd", handler_for(ledger, lambda t: [1, 2])).run(until_empty=True)
    assert "not a dict" in (tasks.get(task.id).error or "")


def _completed_soon(tasks: Any, task_id: int, timeout: float = 20.0) -> bool:
    """Whether the task is completed within ``timeout`` seconds (read back from the table)."""
    deadline = time.monotonic() + timeout
    while tasks.get(task_id).status != "completed":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# Wake-up tests: the worker's poll interval and heartbeat period (a third of the lease) are
# far longer than the waits, so only a notification can wake an idle worker in time.
IDLE_POLL, IDLE_LEASE = 600.0, 1800.0


def test_sync_worker_wakes_on_notify_and_stops_cleanly(
    sync_ledger: Ledger, settings: Settings
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    tasks = sync_ledger.tenant(tid).tasks
    seen: list[int] = []
    second = threading.Event()

    def handler(task: Task) -> dict[str, Any]:
        seen.append(task.id)
        if len(seen) == 2:
            second.set()
        return {}

    worker = tasks.worker("wake", handler, poll_interval=IDLE_POLL, lease=IDLE_LEASE)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        assert worker.listening.wait(20)
        # The first task may be found by the worker's first claim. Its completion and the
        # claim that found nothing after it are one statement: once it is completed, the
        # worker is idle.
        first = tasks.enqueue("wake")
        assert _completed_soon(tasks, first.id)
        tasks.enqueue("wake")
        assert second.wait(20)
    finally:
        worker.stop()
        thread.join(90)
    assert not thread.is_alive()
    assert worker.stats.completed == 2
    assert not worker.listening.is_set()


def test_async_worker_wakes_on_notify(async_ledger: AsyncLedger, aio: asyncio.Runner) -> None:
    async def scenario() -> int:
        tid = f"t-{uuid.uuid4().hex[:12]}"
        await async_ledger.tenants.create(tid)
        tasks = async_ledger.tenant(tid).tasks
        seen: list[int] = []
        second = asyncio.Event()

        async def handle(task: Task) -> None:
            seen.append(task.id)
            if len(seen) == 2:
                second.set()

        worker = tasks.worker("wake", handle, poll_interval=IDLE_POLL, lease=IDLE_LEASE)
        running = asyncio.create_task(worker.run())
        await asyncio.wait_for(worker.listening.wait(), 20)
        first = await tasks.enqueue("wake")  # as in the sync test: then the worker is idle
        deadline = time.monotonic() + 20
        while (await tasks.get(first.id)).status != "completed":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await tasks.enqueue("wake")
        await asyncio.wait_for(second.wait(), 20)
        worker.stop()
        stats = await asyncio.wait_for(running, 30)
        return stats.completed

    assert aio.run(scenario()) == 2


def test_stop_releases_work_still_running_after_the_grace_period(
    sync_ledger: Ledger,
) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    tasks = sync_ledger.tenant(tid).tasks
    task = tasks.enqueue("slow")
    started, finish = threading.Event(), threading.Event()

    def handle(t: Task) -> dict[str, Any]:
        started.set()
        finish.wait(30)
        return {}

    worker = tasks.worker("slow", handle, grace=0.2, poll_interval=0.05)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert started.wait(20)
    worker.stop()
    thread.join(30)
    finish.set()
    released = tasks.get(task.id)
    assert released.status == "pending" and released.attempts == 0
    assert worker.stats.released == 1


def test_async_stop_releases_work_after_grace(
    async_ledger: AsyncLedger, aio: asyncio.Runner
) -> None:
    async def scenario() -> Task:
        tid = f"t-{uuid.uuid4().hex[:12]}"
        await async_ledger.tenants.create(tid)
        tasks = async_ledger.tenant(tid).tasks
        task = await tasks.enqueue("slow")
        started = asyncio.Event()

        async def handle(t: Task) -> None:
            started.set()
            await asyncio.sleep(30)

        worker = tasks.worker("slow", handle, grace=0.2, poll_interval=0.05)
        running = asyncio.create_task(worker.run())
        await asyncio.wait_for(started.wait(), 20)
        worker.stop()
        await asyncio.wait_for(running, 20)
        return await tasks.get(task.id)

    released = aio.run(scenario())
    assert released.status == "pending" and released.attempts == 0


def busy_and_quiet(ledger: Ledger, queue: str, backlog: int) -> tuple[str, str]:
    """Two new tenants with ready work in ``queue``: one with a backlog, one with 3 tasks."""
    busy, quiet = (f"t-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for tid, count in ((busy, backlog), (quiet, 3)):
        ledger.tenants.create(tid)
        ledger.tenant(tid).tasks.enqueue_many(queue, [{"i": i} for i in range(count)])
    return busy, quiet


def test_platform_claims_are_fair_across_tenants(ledger: Ledger) -> None:
    queue = f"fair-{uuid.uuid4().hex[:6]}"
    busy, quiet = busy_and_quiet(ledger, queue, 200)
    claimed = ledger.platform_tasks.claim(queue, limit=4, worker="platform")
    by_tenant = Counter(t.tenant_id for t in claimed)
    assert by_tenant == {busy: 2, quiet: 2}
    # Each claimed task is settled in its own tenant's binding.
    for task in claimed:
        assert ledger.tenant(task.tenant_id).tasks.complete(task).status == "completed"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_both_fair_claim_versions_share_fairly(
    sync_ledger: Ledger, app_url: str, version: str
) -> None:
    """v2 (cheaper tokens) claims exactly as v1 did; v1 stays for older clients."""
    queue = f"fair-{version}-{uuid.uuid4().hex[:6]}"
    busy, quiet = busy_and_quiet(sync_ledger, queue, 50)
    call = FAIR_CALLS[version]
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('agentledger.platform', 'on', true)")
        rows = conn.execute(call, (queue, 6, 60.0, "platform")).fetchall()
        again = conn.execute(call, (queue, 6, 60.0, "platform")).fetchall()
    assert Counter(r[0] for r in rows) == {busy: 3, quiet: 3}
    assert Counter(r[0] for r in again) == {busy: 6}
    tokens = [r[1] for r in rows + again]
    assert None not in tokens and len(set(tokens)) == 12


FAIR_CALLS = {
    "v1": "SELECT tenant_id, claim_token FROM agentledger.claim_tasks_fair_v1(%s, %s, %s, %s)",
    "v2": "SELECT tenant_id, claim_token FROM agentledger.claim_tasks_fair_v2(%s, %s, %s, %s)",
}


def test_platform_worker_drains_every_tenant(ledger: Ledger) -> None:
    queue = f"pw-{uuid.uuid4().hex[:6]}"
    tenants = [f"t-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    for n, tid in enumerate(tenants):
        ledger.tenants.create(tid)
        ledger.tenant(tid).tasks.enqueue_many(queue, [{"i": i} for i in range(5 + n)])
    worker = ledger.platform_tasks.worker(
        queue, handler_for(ledger, lambda t: {"tenant": t.tenant_id}), concurrency=4
    )
    assert worker.run(until_empty=True).completed == 18
    for tid in tenants:
        done = ledger.tenant(tid).tasks.list(queue=queue, status="completed")
        assert done and all(t.output == {"tenant": tid} for t in done)


def test_tenant_scope_cannot_use_the_fair_claim(sync_ledger: Ledger, tenant_id: str) -> None:
    from agentledger import InvalidInput
    from agentledger.tasks import ops

    scope = sync_ledger.tenant(tenant_id)
    with pytest.raises(InvalidInput, match="platform scope"):
        scope._run(ops.claim_fair("q"))


def test_concurrent_claimers_never_share_a_task(settings: Settings) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    with Ledger(settings, migrate=False) as admin:
        admin.tenants.create(tid)
        admin.tenant(tid).tasks.enqueue_many("race", [{"i": i} for i in range(600)])
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        with Ledger(settings.with_(pool_max_size=2), migrate=False) as ledger:
            tasks = ledger.tenant(tid).tasks
            while batch := tasks.claim("race", limit=7):
                with lock:
                    claimed.extend(t.id for t in batch)
                tasks.settle([_complete(t) for t in batch])

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(claimed) == 600 and len(set(claimed)) == 600


def _complete(task: Task) -> Any:
    from agentledger import Outcome

    assert task.claim_token is not None
    return Outcome(id=task.id, token=task.claim_token, action="complete")


def test_completion_racing_a_lease_expiry_has_one_winner(settings: Settings) -> None:
    """The old holder completes exactly while another worker rescues the expired lease:
    either the completion lands and the rescue finds nothing, or the rescue wins and the
    completion is refused; never both."""
    tid = f"t-{uuid.uuid4().hex[:12]}"
    rounds = 40
    with (
        Ledger(settings, migrate=False) as one,
        Ledger(settings.with_(pool_max_size=2), migrate=False) as two,
    ):
        one.tenants.create(tid)
        a, b = one.tenant(tid).tasks, two.tenant(tid).tasks
        outcomes: Counter[str] = Counter()
        for _ in range(rounds):
            a.enqueue("expiry")
            [held] = a.claim("expiry", lease=0.02)
            time.sleep(0.03)
            barrier = threading.Barrier(2)
            rescued: list[Task] = []
            completed: list[bool] = []

            def finish(
                held: Task = held,
                barrier: threading.Barrier = barrier,
                completed: list[bool] = completed,
            ) -> None:
                barrier.wait()
                try:
                    a.complete(held)
                    completed.append(True)
                except Conflict:
                    completed.append(False)

            def rescue(barrier: threading.Barrier = barrier, rescued: list[Task] = rescued) -> None:
                barrier.wait()
                rescued.extend(b.claim("expiry"))

            threads = [threading.Thread(target=finish), threading.Thread(target=rescue)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert completed[0] != bool(rescued), (completed, rescued)
            outcomes["completed" if completed[0] else "rescued"] += 1
            for task in rescued:
                b.complete(task)
        assert sum(outcomes.values()) == rounds


def test_finished_results_wake_the_loop_once_enough_are_in() -> None:
    """The sync worker's loop waits for a number of handler results, not for each one."""
    from agentledger.tasks.threads import Finished

    finished = Finished()
    assert finished.take(3, 0.01) == []  # nothing came: the wait times out empty
    items: list[Any] = [(object(), None, None) for _ in range(3)]

    def deliver() -> None:
        for item in items:
            time.sleep(0.05)
            finished.put(item)

    threading.Thread(target=deliver).start()
    started = time.monotonic()
    got = finished.take(3, 10.0)
    waited = time.monotonic() - started
    assert got == items  # woken by the third, not by the first
    assert 0.1 <= waited < 5.0
    finished.put(items[0])
    assert finished.take() == [items[0]]  # no wait asked: whatever is in


def _run_all(runners: Any, tasks: list[Any], ran: list[Any], timeout: float = 20.0) -> None:
    runners.submit(tasks)
    deadline = time.monotonic() + timeout
    while len(ran) < len(tasks) and time.monotonic() < deadline:
        time.sleep(0.005)


def test_runners_give_blocking_handlers_a_thread_each_up_to_the_limit() -> None:
    """Quick handlers are run one after another; once handlers block, more runners start
    (all of them block together here, so each needs its own), but never more than the
    limit at once."""
    from agentledger.tasks.threads import Runners

    quick: list[Any] = []
    blocked = threading.Barrier(4, timeout=15)
    ran: list[Any] = []
    running = peak = 0
    lock = threading.Lock()

    def call(task: Any) -> None:
        nonlocal running, peak
        if task[0] == "quick":
            quick.append(task)
            return
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            blocked.wait()  # returns only once four handlers wait here together
            ran.append(task)
        finally:
            with lock:
                running -= 1

    runners = Runners(call, 4)
    try:
        _run_all(runners, [("quick", i) for i in range(500)], quick)
        assert len(quick) == 500
        _run_all(runners, [("block", i) for i in range(12)], ran)
    finally:
        runners.close()
    assert sorted(ran) == [("block", i) for i in range(12)]
    assert peak == 4


def test_a_worker_runs_again_after_running_until_empty(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    worker = tasks.worker("again", handler_for(ledger, lambda t: None), poll_interval=0.05)
    tasks.enqueue("again")
    assert worker.run(until_empty=True).completed == 1
    tasks.enqueue("again")
    assert worker.run(until_empty=True).completed == 2  # the stats add up over runs


def test_a_task_claimed_again_under_its_running_handler_is_booked_per_claim(
    ledger: Ledger, sync_ledger: Ledger, tenant_id: str
) -> None:
    """Released under its running handler (from another connection), a task is claimed
    again by the same worker while the first handler still runs: each handler's result is
    booked against its own claim, so the second's completion is settled (the first's is
    refused)."""
    tasks = ledger.tenant(tenant_id).tasks
    [task_id] = tasks.enqueue_many("again", [{}])
    runs: list[int] = []

    def first(task: Task) -> bool:
        """Whether this is the first run: it releases its task, then waits for the second."""
        runs.append(task.id)
        if len(runs) == 1:
            sync_ledger.tenant(tenant_id).tasks.release(task)
            return True
        return False

    handler: Any
    if isinstance(ledger, AsyncFace):
        second = asyncio.Event()

        async def handle_async(task: Task) -> dict[str, Any]:
            if first(task):
                await asyncio.wait_for(second.wait(), 20)
                return {"run": 1}
            second.set()
            return {"run": 2}

        handler = handle_async
    else:
        second_started = threading.Event()

        def handle(task: Task) -> dict[str, Any]:
            if first(task):
                assert second_started.wait(20)
                return {"run": 1}
            second_started.set()
            return {"run": 2}

        handler = handle
    worker = tasks.worker("again", handler, concurrency=2, poll_interval=0.05)
    stats = worker.run(until_empty=True)
    assert runs == [task_id, task_id]
    assert (stats.claimed, stats.completed, stats.refused) == (2, 1, 1)
    done = tasks.get(task_id)
    assert done.status == "completed" and done.output == {"run": 2}
