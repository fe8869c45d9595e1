"""Workers meeting faults: outputs and errors that cannot be stored, options that cannot be,
handlers raising SystemExit, and what the ``worker`` command says and assumes."""

from __future__ import annotations

import _thread
import asyncio
import math
import os
import signal
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest

from agentledger import AsyncLedger, InvalidInput, LanguageStatus, Ledger, NewEntity, Settings, Task
from agentledger.memory import rebuild
from tests.conftest import new_tenant
from tests.faces import AsyncFace, handler_for
from tests.procs import ROOT, spawn_cli, stop_when

BAD_OUTPUTS: dict[str, tuple[dict[Any, Any], str]] = {
    "nan": ({"x": float("nan")}, "output.x contains a non-finite number (nan)"),
    "set": ({"x": {1, 2}}, "output.x holds a set, which is not a JSON type"),
    "object": ({"x": object()}, "output.x holds a object, which is not a JSON type"),
    "int key": ({1: "a"}, "output has a non-string key 1"),
    "nul": ({"x": "a\x00b"}, "output.x contains a NUL character (\\u0000)"),
}


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_an_output_that_cannot_be_stored_fails_its_task_alone(
    ledger: Ledger, tenant_id: str, case: str
) -> None:
    """The rest of the batch is settled as usual, and the worker carries on."""
    output, said = BAD_OUTPUTS[case]
    tasks = ledger.tenant(tenant_id).tasks
    bad, good = tasks.enqueue_many("out", [{"bad": True}, {"bad": False}])

    def handle(task: Task) -> dict[Any, Any]:
        return output if task.input["bad"] else {"ok": True}

    worker = tasks.worker("out", handler_for(ledger, handle), concurrency=2)
    stats = worker.run(until_empty=True)
    assert (stats.claimed, stats.completed, stats.failed) == (2, 1, 1)
    failed = tasks.get(bad)
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.error == f"handler returned an output that cannot be stored: {said}"
    done = tasks.get(good)
    assert done.status == "completed" and done.output == {"ok": True}


@pytest.mark.parametrize("case", [*sorted(BAD_OUTPUTS), "list"])
def test_a_transactional_handlers_bad_output_fails_its_task_in_the_same_words(
    sync_ledger: Ledger, case: str
) -> None:
    """Its writes roll back, and the task's error reads as a plain worker's would."""
    output, said = BAD_OUTPUTS.get(case, ([1], ""))
    scope = sync_ledger.tenant(new_tenant(sync_ledger))
    [task_id] = scope.tasks.enqueue_many("tx-out", [{}])

    def handle(task: Task, tx: Any) -> Any:
        tx.events.append(f"task-{task.id}", "Handled", {})
        return output

    worker = scope.tasks.worker("tx-out", handle, transactional=True, concurrency=2)
    stats = worker.run(until_empty=True)
    assert (stats.claimed, stats.failed) == (1, 1)
    error = scope.tasks.get(task_id).error
    if case == "list":
        assert error == "handler returned list, not a dict or None"
    else:
        assert error == f"handler returned an output that cannot be stored: {said}"
    assert scope.events.stream_version(f"task-{task_id}") == 0  # its write rolled back


@pytest.mark.parametrize(
    ("message", "stored"), [("a\x00b", "a\\x00b"), ("lone \udc80", "lone \\udc80")]
)
def test_an_error_message_postgresql_cannot_store_is_stored_escaped(
    ledger: Ledger, tenant_id: str, message: str, stored: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    [task_id] = tasks.enqueue_many("err", [{}])

    def handle(task: Task) -> None:
        raise ValueError(message)

    stats = tasks.worker("err", handler_for(ledger, handle)).run(until_empty=True)
    assert stats.failed == 1
    assert tasks.get(task_id).error == f"ValueError: {stored}"


BAD_OPTIONS: list[tuple[str, object]] = [
    ("concurrency", 0),
    ("concurrency", 1001),
    ("concurrency", "3"),
    ("concurrency", 2.5),
    ("concurrency", True),
    ("lease", 0),
    ("lease", -1),
    ("lease", math.nan),
    ("lease", math.inf),
    ("lease", 1e300),
    ("lease", "60"),
    ("poll_interval", 0),
    ("poll_interval", math.nan),
    ("grace", -5),
    ("grace", math.nan),
    ("grace", "x"),
    ("retention", -1),
    ("retention", "x"),
    ("retention", math.inf),
    ("worker_id", 5),
    ("worker_id", "w" * 201),
    ("transactional", "yes"),
]


@pytest.mark.parametrize(("name", "value"), BAD_OPTIONS)
def test_a_bad_worker_option_is_refused_when_the_worker_is_made(
    ledger: Ledger, tenant_id: str, name: str, value: object
) -> None:
    handler = handler_for(ledger, lambda task: None)
    makers: list[Any] = [ledger.tenant(tenant_id).tasks.worker]
    if name != "retention":  # a platform worker prunes nothing
        makers.append(ledger.platform_tasks.worker)
    for make in makers:
        with pytest.raises(InvalidInput) as info:
            make("q", handler, **{name: value})
        assert info.value.field == name


def test_a_worker_checks_its_queue_and_handler_and_takes_options_at_their_bounds(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    handler = handler_for(ledger, lambda task: None)
    with pytest.raises(InvalidInput) as info:
        tasks.worker("", handler)
    assert info.value.field == "queue"
    with pytest.raises(InvalidInput) as info:
        tasks.worker("q", "tests.task_proc:record")  # type: ignore[arg-type]
    assert info.value.field == "handler"
    bounds: list[dict[str, Any]] = [
        {"concurrency": 1, "lease": 0.001, "poll_interval": 0.001, "grace": 0, "retention": 0},
        {"concurrency": 1000, "lease": 86_400, "poll_interval": 86_400, "grace": 86_400},
        {"worker_id": "w" * 200},
    ]
    for options in bounds:
        worker = tasks.worker("q", handler, **options)
        for name, value in options.items():
            assert getattr(worker.options, name) == value


class Halt(BaseException):
    """Neither an Exception nor one that asyncio lets through its event loop."""


def _fatal_or_fine(fatal: BaseException) -> Any:
    def handle(task: Task) -> dict[str, Any]:
        if task.input["fatal"]:
            raise fatal
        return {"ok": True}

    return handle


def _after_a_fatalhandler_for(tasks: Any, doomed: Task, fine: Task, named: str) -> None:
    """The handler that raised failed its task; the other one's completion was settled."""
    failed = tasks.get(doomed.id)
    assert failed.status == "pending" and failed.attempts == 1
    assert (failed.error or "").startswith(named)
    done = tasks.get(fine.id)
    assert done.status == "completed" and done.output == {"ok": True}


@pytest.mark.parametrize("fatal", [SystemExit(3), KeyboardInterrupt(), Halt("halt")], ids=repr)
def test_a_handler_raising_a_base_exception_fails_its_task_and_stops_the_worker(
    sync_ledger: Ledger, fatal: BaseException
) -> None:
    """As a stop(): the worker claims nothing more, lets the other handlers finish, and
    settles; then run() raises the handler's exception again."""
    tasks = sync_ledger.tenant(new_tenant(sync_ledger)).tasks
    doomed, fine = (tasks.enqueue("fatal", {"fatal": f}) for f in (True, False))
    worker = tasks.worker("fatal", _fatal_or_fine(fatal), concurrency=2)
    guard = threading.Timer(60, worker.stop)  # without the fix run() would never return
    guard.start()
    try:
        with pytest.raises(type(fatal)) as info:
            worker.run(until_empty=True)
    finally:
        guard.cancel()
    assert info.value is fatal
    assert (worker.stats.claimed, worker.stats.completed, worker.stats.failed) == (2, 1, 1)
    _after_a_fatalhandler_for(tasks, doomed, fine, type(fatal).__name__)


@pytest.mark.parametrize("fatal", [SystemExit(3), Halt("halt")], ids=repr)
def test_an_async_handler_raising_a_base_exception_fails_its_task_and_stops_the_worker(
    settings: Settings, fatal: BaseException
) -> None:
    """As on the sync face. SystemExit passes through an event loop: a loop of its own."""
    with asyncio.Runner() as runner:
        aledger = AsyncLedger(settings, migrate=False)
        runner.run(aledger.open())
        try:
            tid = f"t-{uuid.uuid4().hex[:12]}"
            runner.run(aledger.tenants.create(tid))
            tasks = aledger.tenant(tid).tasks
            doomed, fine = (runner.run(tasks.enqueue("fatal", {"fatal": f})) for f in (1, 0))
            plain = _fatal_or_fine(fatal)

            async def handle(task: Task) -> dict[str, Any]:
                return plain(task)  # type: ignore[no-any-return]

            worker = tasks.worker("fatal", handle, concurrency=2)

            async def run() -> Any:
                guard = asyncio.get_running_loop().call_later(60, worker.stop)
                try:
                    return await worker.run(until_empty=True)
                finally:
                    guard.cancel()

            with pytest.raises(type(fatal)) as info:
                runner.run(run())
            assert info.value is fatal
            assert (worker.stats.claimed, worker.stats.completed) == (2, 1)
            assert worker.stats.failed == 1
            _after_a_fatalhandler_for(AsyncFace(tasks, runner), doomed, fine, type(fatal).__name__)
        finally:
            runner.run(aledger.close())


def _cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``agentledger *args`` on the test's database, run to its end."""
    full = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "AGENTLEDGER_DATA_DIR": str(settings.data_dir),
        **env,
    }
    command = [sys.executable, "-m", "agentledger.cli", *args]
    return subprocess.run(command, cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_worker_command_names_an_impossible_option_in_one_line(settings: Settings) -> None:
    handler = ("worker", "q", "tests.task_proc:record", "--tenant", "t")
    cases = {
        (*handler, "--lease", "0"): "error: lease is 0.0; it must be between 0.001 and 86400.0",
        (*handler, "--lease", "-3"): "error: lease is -3.0; it must be between 0.001 and 86400.0",
        ("worker", rebuild.REINDEX_QUEUE, "--platform", "--concurrency", "10"): (
            "error: a transactional worker with concurrency 10 needs pool_max_size above it "
            "(it is 10)"
        ),
    }
    for args, said in cases.items():
        done = _cli(settings, *args, AGENTLEDGER_POOL_MAX_SIZE="10")
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(said), line


@pytest.mark.slow
def test_the_documented_reindex_worker_command_works_with_default_settings(
    settings: Settings, sync_ledger: Ledger
) -> None:
    """``agentledger worker agentledger.reindex --platform``: no --concurrency, the default
    pool; its transactional handlers leave the worker a connection of its own."""
    memory = sync_ledger.tenant(new_tenant(sync_ledger)).memory
    memory.upsert_many(NewEntity(kind="fact", name=f"Das Haus {i}") for i in range(6))
    memory.set_language("german", batch_size=2)
    proc = spawn_cli(
        settings, "worker", rebuild.REINDEX_QUEUE, "--platform", AGENTLEDGER_POOL_MAX_SIZE="10"
    )
    out = stop_when(proc, lambda: not memory.language_status().pending)  # it ran until stopped
    assert proc.returncode == 0, out
    assert "refused=0" in out
    assert memory.language_status() == LanguageStatus(language="german", pending=0, batches=0)


@pytest.mark.slow
@pytest.mark.parametrize("handler", ["tests.task_proc:linger", "tests.task_proc:linger_async"])
def test_ctrl_c_on_the_worker_command_lets_the_running_task_finish(
    settings: Settings, sync_ledger: Ledger, handler: str
) -> None:
    """The first Ctrl-C stops the command as SIGTERM does: the task in hand finishes within
    the grace, none is left held until its lease runs out."""
    tenant = new_tenant(sync_ledger)
    tasks = sync_ledger.tenant(tenant).tasks
    task = tasks.enqueue("slow", {})
    proc = spawn_cli(settings, "worker", "slow", handler, "--tenant", tenant)
    out = stop_when(proc, lambda: tasks.get(task.id).status == "running", signal.SIGINT)
    assert proc.returncode == 0, out
    assert "stopped:" in out and "completed=1" in out, out
    done = tasks.get(task.id)
    assert done.status == "completed" and done.output == {"lingered": True}


def test_ctrl_c_in_a_library_workers_run_releases_the_task_in_hand(sync_ledger: Ledger) -> None:
    """KeyboardInterrupt in the thread running ``Worker.run()`` (a script's Ctrl-C): the task
    in hand is handed back at once for other workers, and the interrupt is raised."""
    tasks = sync_ledger.tenant(new_tenant(sync_ledger)).tasks
    task = tasks.enqueue("ctrl-c", {})
    started, let_go = threading.Event(), threading.Event()

    def handle(task: Task) -> dict[str, Any]:
        started.set()
        let_go.wait(30)
        return {"done": True}

    worker = tasks.worker("ctrl-c", handle, lease=300)

    def interrupt_once_started() -> None:
        if started.wait(30):
            _thread.interrupt_main()

    interrupt = threading.Thread(target=interrupt_once_started)
    interrupt.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            worker.run()
    finally:
        let_go.set()
        interrupt.join()
    released = tasks.get(task.id)
    assert released.status == "pending" and released.attempts == 0, released


def test_cancelling_an_async_workers_run_releases_the_task_in_hand(
    async_ledger: AsyncLedger, aio: asyncio.Runner
) -> None:
    """asyncio.run's Ctrl-C cancels the main task: the held task is handed back at once."""
    tid = f"t-{uuid.uuid4().hex[:12]}"
    aio.run(async_ledger.tenants.create(tid))
    tasks = async_ledger.tenant(tid).tasks
    task = aio.run(tasks.enqueue("cancel", {}))
    started = asyncio.Event()

    async def handle(task: Task) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(30)
        return {"done": True}

    async def cancelled() -> None:
        worker = tasks.worker("cancel", handle, lease=300)
        running = asyncio.create_task(worker.run())
        await asyncio.wait_for(started.wait(), 30)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    aio.run(cancelled())
    released = aio.run(tasks.get(task.id))
    assert released.status == "pending" and released.attempts == 0, released
