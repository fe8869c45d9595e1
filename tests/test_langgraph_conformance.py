"""LangGraph's own checkpointer conformance suite (langgraph-checkpoint-conformance) against
both savers: every capability it knows, base and extended, detected and passed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.report import CapabilityReport
from langgraph.checkpoint.conformance.spec import (
    test_copy_thread as copy_thread,
    test_delete_for_runs as delete_for_runs,
    test_delete_thread as delete_thread,
    test_get_tuple as get_tuple,
    test_list as list_,
    test_prune as prune,
    test_put as put,
    test_put_writes as put_writes,
)

from agentledger import AsyncLedger, Ledger, Settings
from agentledger.integrations.langgraph import AgentLedgerSaver, AsyncAgentLedgerSaver

# Every test of the suite, so that none goes unrun unnoticed.
SUITE_SIZE = sum(
    len(tests)
    for tests in (
        put.ALL_PUT_TESTS,
        put_writes.ALL_PUT_WRITES_TESTS,
        get_tuple.ALL_GET_TUPLE_TESTS,
        list_.ALL_LIST_TESTS,
        delete_thread.ALL_DELETE_THREAD_TESTS,
        delete_for_runs.ALL_DELETE_FOR_RUNS_TESTS,
        copy_thread.ALL_COPY_THREAD_TESTS,
        prune.ALL_PRUNE_TESTS,
    )
)


@pytest.fixture
async def here(settings: Settings) -> AsyncIterator[AsyncLedger]:
    """An AsyncLedger on the test's own event loop."""
    async with AsyncLedger(settings, migrate=False) as ledger:
        yield ledger


async def conformance(name: str, make: Callable[[], BaseCheckpointSaver[str]]) -> CapabilityReport:
    @checkpointer_test(name=name)
    async def factory() -> AsyncIterator[BaseCheckpointSaver[str]]:
        yield make()

    return await validate(factory)


def assert_full(report: CapabilityReport) -> None:
    results = report.results
    failures = [f for r in results.values() for f in r.failures]
    assert failures == [], failures
    assert {name for name, r in results.items() if r.detected} == {
        c.value for c in ALL_CAPABILITIES
    }
    assert report.conformance_level() == "FULL"
    assert sum(r.tests_passed for r in results.values()) == SUITE_SIZE
    assert sum(r.tests_skipped for r in results.values()) == 0


async def test_the_async_saver_conforms(here: AsyncLedger) -> None:
    tenant = (await here.tenants.create(f"t-{uuid.uuid4().hex[:12]}", "Conformance")).id
    report = await conformance(
        "AsyncAgentLedgerSaver", lambda: AsyncAgentLedgerSaver(here.tenant(tenant))
    )
    assert_full(report)


async def test_the_sync_saver_conforms(sync_ledger: Ledger) -> None:
    tenant = sync_ledger.tenants.create(f"t-{uuid.uuid4().hex[:12]}", "Conformance").id
    report = await conformance(
        "AgentLedgerSaver", lambda: AgentLedgerSaver(sync_ledger.tenant(tenant))
    )
    assert_full(report)
