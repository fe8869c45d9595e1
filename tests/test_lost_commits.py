"""A write whose COMMIT answer is lost: the server committed, the connection closed before
the client heard it, and the ledger ran the (idempotent) operation again. The repeat finds
the first run's effect and returns it, instead of refusing to do again what it did."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from chaos.tcp_proxy import TcpProxy

from agentledger import Ledger, Settings, VersionConflict
from agentledger.ledger import TenantScope


@pytest.fixture(scope="module")
def proxy(settings: Settings) -> Iterator[TcpProxy]:
    port = urlsplit(str(settings.database_url)).port
    assert port is not None
    with TcpProxy("127.0.0.1", port) as running:
        yield running


@pytest.fixture(scope="module")
def lossy(settings: Settings, proxy: TcpProxy) -> Iterator[Ledger]:
    url = proxy.through(str(settings.database_url))
    with Ledger(settings.with_(database_url=url), migrate=False) as ledger:
        yield ledger


@pytest.fixture
def scope(lossy: Ledger) -> TenantScope:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    lossy.tenants.create(tid)
    return lossy.tenant(tid)


def _answer_lost(proxy: TcpProxy, write: Callable[[], Any]) -> Any:
    """``write()`` with the answer to its COMMIT dropped once."""
    before = proxy.lost_answers
    proxy.lose_next_commit_answer()
    result = write()
    assert proxy.lost_answers == before + 1, "the commit's answer was not lost"
    return result


def test_a_lifecycle_move_repeated_after_its_commit_returns_the_moved_record(
    scope: TenantScope, proxy: TcpProxy
) -> None:
    alert = scope.alerts.create(1, "disk")
    acknowledged = _answer_lost(proxy, lambda: scope.alerts.acknowledge(alert.id, by="ops"))
    assert acknowledged.status == "acknowledged" and acknowledged.acknowledged_by == "ops"
    task = scope.tasks.enqueue("q", {})
    cancelled = _answer_lost(proxy, lambda: scope.tasks.cancel(task.id))
    assert cancelled.status == "cancelled"


def test_a_completion_repeated_after_its_commit_returns_the_completed_task(
    scope: TenantScope, proxy: TcpProxy
) -> None:
    scope.tasks.enqueue("done", {})
    [claimed] = scope.tasks.claim("done")
    done = _answer_lost(proxy, lambda: scope.tasks.complete(claimed, {"ok": True}))
    assert done.status == "completed" and done.output == {"ok": True}


def test_a_tenant_made_again_after_its_commit_is_returned(lossy: Ledger, proxy: TcpProxy) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    made = _answer_lost(proxy, lambda: lossy.tenants.create(tid, "Acme"))
    assert (made.id, made.name, made.status) == (tid, "Acme", "active")


def test_a_versioned_case_change_repeated_after_its_commit_is_its_own(
    scope: TenantScope, proxy: TcpProxy
) -> None:
    scope.cases.define_kind(
        "issue", ["new", "analyzing", "done"], transitions={"new": ["analyzing"]}, terminal=["done"]
    )
    case = scope.cases.create("issue", "one")
    moved = _answer_lost(
        proxy,
        lambda: scope.cases.transition(case.id, "analyzing", expected_version=case.version),
    )
    assert (moved.status, moved.version) == ("analyzing", case.version + 1)
    changed = _answer_lost(
        proxy, lambda: scope.cases.update(case.id, title="two", expected_version=moved.version)
    )
    assert (changed.title, changed.version) == ("two", moved.version + 1)
    # Not a repeat: a version past the expected one is still refused.
    with pytest.raises(VersionConflict):
        scope.cases.update(case.id, title="three", expected_version=moved.version)
