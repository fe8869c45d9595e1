"""AgentLedgerSaver and AsyncAgentLedgerSaver beyond LangGraph's conformance suite: bad input
to the methods that take a list of thread or run ids."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint

from agentledger import InvalidInput, Ledger
from agentledger.integrations.langgraph import AgentLedgerSaver, AsyncAgentLedgerSaver

Call = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest, sync_ledger: Ledger, aio: asyncio.Runner) -> Call:
    """Calls a method of a fresh tenant's saver by its sync name, on the sync saver or (its
    ``a`` method, on the test run's loop) on the async one."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant, "LangGraph saver")
    if request.param == "sync":
        saver: BaseCheckpointSaver[str] = AgentLedgerSaver(sync_ledger.tenant(tenant))
        return lambda name, *args, **kwargs: getattr(saver, name)(*args, **kwargs)
    inner = AsyncAgentLedgerSaver(request.getfixturevalue("async_ledger").tenant(tenant))
    return lambda name, *args, **kwargs: aio.run(getattr(inner, f"a{name}")(*args, **kwargs))


def put(call: Call, thread: str, run: str) -> None:
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"x": 1}
    checkpoint["channel_versions"] = {"x": "1"}
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    call("put", config, checkpoint, {"run_id": run}, {"x": "1"})


def threads(call: Call, *names: str) -> list[str]:
    """Which of these threads have a checkpoint."""
    return [t for t in names if call("get_tuple", {"configurable": {"thread_id": t}})]


def test_one_string_for_a_list_of_ids_is_refused_and_deletes_nothing(call: Call) -> None:
    """Not taken for its characters: prune("abc") would delete threads "a", "b", "c"."""
    for thread, run in [("a", "r"), ("b", "u"), ("abc", "run")]:
        put(call, thread, run)
    with pytest.raises(InvalidInput) as raised:
        call("prune", "abc", strategy="delete")
    assert raised.value.field == "thread_ids" and "not str" in str(raised.value)
    with pytest.raises(InvalidInput) as raised:
        call("delete_for_runs", "run")
    assert raised.value.field == "run_ids"
    assert threads(call, "a", "b", "abc") == ["a", "b", "abc"]
    call("prune", ("abc",), strategy="delete")
    call("delete_for_runs", ["r"])
    assert threads(call, "a", "b", "abc") == ["b"]
