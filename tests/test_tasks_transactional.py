"""Transactional completion, on both faces: a handler's writes commit with its task's
completion or not at all, so they happen exactly once even when leases are lost and
workers are killed."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from agentledger import ConfigError, InvalidInput, LeaseLost, Ledger, NewTask, Settings, Task
from agentledger.ledger import AsyncTransaction, Transaction
from tests.conftest import ROOT
from tests.faces import AsyncFace
from tests.procs import spawn_worker, stop_when


def _stream(task_id: int) -> str:
    """The event stream a task's handler writes its effect to."""
    return f"effect-{task_id}"


def _tx_handler(ledger: Ledger, before: Callable[[Task], None] | None = None) -> Any:
    """A transactional handler for the face at hand: it appends one event (its effect, on
    the task's own stream, with no idempotency key: a second run appends a second event),
    calls ``before(task)`` and returns the task's input as its output."""
    if isinstance(ledger, AsyncFace):

        async def handle_async(task: Task, tx: AsyncTransaction) -> dict[str, Any]:
            await tx.events.append(_stream(task.id), "effect", {"attempt": task.attempts})
            if before is not None:
                before(task)
            return task.input

        return handle_async

    def handle(task: Task, tx: Transaction) -> dict[str, Any]:
        tx.events.append(_stream(task.id), "effect", {"attempt": task.attempts})
        if before is not None:
            before(task)
        return task.input

    return handle


def _effects(scope: Any, task_id: int) -> list[int]:
    """The attempts whose effect is on record for a task."""
    return [e.payload["attempt"] for e in scope.events.read_stream(_stream(task_id))]


def test_completing_commits_the_writes_with_the_completion(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    scope.tasks.enqueue("tx", {"n": 1})
    [task] = scope.tasks.claim("tx")
    with scope.tasks.completing(task, output={"n": 2}) as tx:
        tx.events.append(_stream(task.id), "effect", {"attempt": 1})
        # One transaction: nothing of it is visible from outside before it commits.
        assert scope.tasks.get(task.id).status == "running"
        assert _effects(scope, task.id) == []
    done = scope.tasks.get(task.id)
    assert done.status == "completed" and done.output == {"n": 2}
    assert _effects(scope, task.id) == [1]
    with pytest.raises(LeaseLost, match="it is completed now"), scope.tasks.completing(task):
        pass


def test_an_exception_in_the_block_rolls_back_and_keeps_the_claim(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    scope.tasks.enqueue("tx-error")
    [task] = scope.tasks.claim("tx-error")
    with pytest.raises(ValueError, match="boom"), scope.tasks.completing(task) as tx:
        tx.events.append(_stream(task.id), "effect", {"attempt": 1})
        raise ValueError("boom")
    assert _effects(scope, task.id) == []
    assert scope.tasks.get(task.id).status == "running"
    assert scope.tasks.complete(task).status == "completed"  # the claim still holds


def _claim_when_expired(tasks: Any, queue_name: str, worker: str) -> Task:
    """Claim the task whose lease runs out (the server's clock decides when)."""
    deadline = time.monotonic() + 20
    while not (claimed := tasks.claim(queue_name, worker=worker)):
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.02)
    task: Task = claimed[0]
    return task


def test_a_lease_lost_mid_block_rolls_back_its_writes_and_the_new_holder_commits(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    tasks = scope.tasks
    tasks.enqueue("tx-lost")
    [first] = tasks.claim("tx-lost", lease=0.2, worker="slow")
    lost = pytest.raises(LeaseLost, match="it is completed now")  # by the new holder
    with lost, tasks.completing(first, output={"by": "slow"}) as tx:
        tx.events.append(f"slow-{first.id}", "effect")
        second = _claim_when_expired(tasks, "tx-lost", "fast")
        assert second.id == first.id and second.rescues == 1
        # A handler that starts on a task taken over fails before it writes anything.
        taken = pytest.raises(LeaseLost, match=r"runs under another claim \(by 'fast'\)")
        with taken, tasks.completing(first):
            pytest.fail("entered with a lost lease")
        with tasks.completing(second, output={"by": "fast"}) as tx2:
            tx2.events.append(f"fast-{first.id}", "effect")
    assert scope.events.read_stream(f"slow-{first.id}") == []
    assert len(scope.events.read_stream(f"fast-{first.id}")) == 1
    done = tasks.get(first.id)
    assert done.status == "completed" and done.output == {"by": "fast"}


def test_completing_refuses_another_tenants_task(ledger: Ledger, tenant_id: str) -> None:
    from agentledger import TenantMismatch

    ledger.tenant(tenant_id).tasks.enqueue("tx-tenant")
    [task] = ledger.tenant(tenant_id).tasks.claim("tx-tenant")
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    refused = pytest.raises(TenantMismatch, match=f"belongs to tenant '{tenant_id}'")
    with refused, ledger.tenant(other).tasks.completing(task):
        pass
    # The platform scope completes it in its own tenant's transaction.
    with ledger.platform_tasks.completing(task, output={"ok": True}) as tx:
        tx.events.append(_stream(task.id), "effect", {"attempt": 1})
    assert ledger.tenant(tenant_id).tasks.get(task.id).output == {"ok": True}
    assert _effects(ledger.tenant(tenant_id), task.id) == [1]


def test_a_transactional_worker_commits_effects_with_completions(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    ids = scope.tasks.enqueue_many("txw", [{"i": i} for i in range(12)])
    worker = scope.tasks.worker(
        "txw", _tx_handler(ledger), concurrency=4, poll_interval=0.05, transactional=True
    )
    stats = worker.run(until_empty=True)
    # Completed by their own transactions: none is settled again (it would be refused).
    assert (stats.claimed, stats.completed, stats.refused, stats.failed) == (12, 12, 0, 0)
    for i, task_id in enumerate(ids):
        task = scope.tasks.get(task_id)
        assert task.status == "completed" and task.output == {"i": i}
        assert _effects(scope, task_id) == [1]


def test_a_transactional_handlers_exception_rolls_back_and_the_task_retries(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    [task_id] = scope.tasks.enqueue_many("txf", [NewTask(input={}, max_attempts=2, retry_delay=0)])

    def boom(task: Task) -> None:
        raise ValueError(f"boom {task.attempts}")

    worker = scope.tasks.worker(
        "txf", _tx_handler(ledger, boom), poll_interval=0.05, concurrency=2, transactional=True
    )
    # A failure is settled in the statement that claims next, which never takes it again:
    # its retry is claimed by the next run.
    stats = worker.run(until_empty=True)
    assert scope.tasks.get(task_id).status == "pending" and _effects(scope, task_id) == []
    stats = worker.run(until_empty=True)
    assert (stats.claimed, stats.failed, stats.completed) == (2, 2, 0)
    task = scope.tasks.get(task_id)
    assert task.status == "dead" and task.attempts == 2
    assert task.error == "ValueError: boom 2"
    assert _effects(scope, task_id) == []


def test_a_transactional_worker_settles_nothing_for_a_lost_lease(
    ledger: Ledger, sync_ledger: Ledger, tenant_id: str
) -> None:
    """The first run's task is released under it (as a worker shutting down releases late
    work): its writes roll back and the worker settles nothing for it; the task is claimed
    again and the second run commits."""
    scope = ledger.tenant(tenant_id)
    [task_id] = scope.tasks.enqueue_many("txl", [{"n": 1}])
    runs: list[int] = []

    def release_first(task: Task) -> None:
        runs.append(task.id)
        if len(runs) == 1:  # from another connection, with this claim's token
            sync_ledger.tenant(tenant_id).tasks.release(task)

    worker = scope.tasks.worker(
        "txl",
        _tx_handler(ledger, release_first),
        poll_interval=0.05,
        concurrency=2,
        transactional=True,
    )
    stats = worker.run(until_empty=True)
    assert runs == [task_id, task_id]
    assert (stats.claimed, stats.refused, stats.completed, stats.failed) == (2, 1, 1, 0)
    assert len(_effects(scope, task_id)) == 1
    assert scope.tasks.get(task_id).status == "completed"


def test_a_transactional_worker_needs_a_pool_larger_than_its_concurrency(
    sync_ledger: Ledger, settings: Settings
) -> None:
    tasks = sync_ledger.tenant("any").tasks
    with pytest.raises(ConfigError, match="concurrency 8 needs pool_max_size above it"):
        tasks.worker("q", lambda task, tx: None, concurrency=8, transactional=True)
    assert settings.pool_max_size == 8
    tasks.worker("q", lambda task, tx: None, concurrency=7, transactional=True)


def _spawn(settings: Settings, tenant: str, queue_name: str, mode: str) -> Any:
    return spawn_worker("tests.task_tx_proc", settings, tenant, queue_name, mode)


def _lines(proc: Any) -> queue.Queue[str]:
    """The process's output lines, read on a thread (so that waiting for one can time out)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    return lines


TASKS, IN_FLIGHT = 8, 3


@pytest.mark.slow
@pytest.mark.parametrize("transactional", [True, False], ids=["transactional", "plain"])
def test_a_sigkilled_workers_effects_in_flight_happen_once_only_when_transactional(
    settings: Settings, transactional: bool
) -> None:
    """A worker process is killed while its handlers have written their effects and wait;
    a new worker finishes the queue. Transactional handlers' effects exist exactly once;
    plain handlers (effects in their own transactions) repeat those of the tasks in flight,
    which shows the scenario would catch a completion not made with the effects."""
    tenant, queue_name = f"t-{uuid.uuid4().hex[:12]}", "tx-kill"
    mode = "transactional" if transactional else "plain"
    with Ledger(settings, migrate=False) as ledger:
        ledger.tenants.create(tenant)
        scope = ledger.tenant(tenant)
        ids = scope.tasks.enqueue_many(queue_name, [{"i": i} for i in range(TASKS)])
        proc = _spawn(settings, tenant, queue_name, mode)
        try:
            lines = _lines(proc)
            in_flight = {int(lines.get(timeout=60).split()[-1]) for _ in range(IN_FLIGHT)}
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)

        def effect(task: Task) -> None:
            scope.events.append(_stream(task.id), "effect", {"attempt": task.attempts})

        def plain(task: Task) -> None:
            effect(task)

        def in_tx(task: Task, tx: Transaction) -> None:
            tx.events.append(_stream(task.id), "effect", {"attempt": task.attempts})

        worker = scope.tasks.worker(
            queue_name,
            in_tx if transactional else plain,
            concurrency=2,
            poll_interval=0.05,
            transactional=transactional,
        )
        deadline = time.monotonic() + 60
        # The dead worker's tasks come back once their leases (1 s) run out.
        while scope.tasks.stats(queue_name)[0].completed < TASKS:
            assert time.monotonic() < deadline, scope.tasks.stats(queue_name)
            worker.run(until_empty=True)
            time.sleep(0.05)
        for task_id in ids:
            task = scope.tasks.get(task_id)
            effects = _effects(scope, task_id)
            if task_id not in in_flight:
                assert effects == [1]
            elif transactional:
                assert task.rescues == 1 and effects == [2]  # the killed run left nothing
            else:
                assert task.rescues == 1 and effects == [1, 2]  # at least once: twice


@pytest.mark.slow
def test_the_worker_command_runs_a_transactional_handler(settings: Settings) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with Ledger(settings, migrate=False) as ledger:
        ledger.tenants.create(tenant)
        scope = ledger.tenant(tenant)
        ids = scope.tasks.enqueue_many("cli-tx", [{"i": i} for i in range(5)])
        env = {
            **os.environ,
            "DATABASE_URL": str(settings.database_url),
            "AGENTLEDGER_DATA_DIR": str(settings.data_dir),
        }
        command = ["worker", "cli-tx", "tests.task_tx_proc:echo_in_tx", "--tenant", tenant]
        options = ["--transactional", "--concurrency", "4"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentledger.cli", *command, *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        out = stop_when(proc, lambda: scope.tasks.stats("cli-tx")[0].completed >= len(ids))
        assert proc.returncode == 0, out
        assert "completed=5" in out and "refused=0" in out
        for i, task_id in enumerate(ids):
            assert scope.tasks.get(task_id).output == {"echo": {"i": i}}
            assert _effects(scope, task_id) == [1]


def test_a_transactional_handlers_result_must_be_a_dict_or_none() -> None:
    from agentledger.tasks.completion import output_of

    assert output_of(None) is None and output_of({"a": 1}) == {"a": 1}
    with pytest.raises(InvalidInput, match="handler returned list, not a dict or None"):
        output_of([1, 2])
