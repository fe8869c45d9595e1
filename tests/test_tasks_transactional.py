"""Transactional completion, on both faces: a handler's writes commit with its task's
completion or not at all, so they happen exactly once even when leases are lost and
workers are killed."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from agentledger import LeaseLost, Task


def _stream(task_id: int) -> str:
    """The event stream a task's handler writes its effect to."""
    return f"effect-{task_id}"


def _effects(scope: Any, task_id: int) -> list[int]:
    """The attempts whose effect is on record for a task."""
    return [e.payload["attempt"] for e in scope.events.read_stream(_stream(task_id))]


def test_completing_commits_the_writes_with_the_completion(ledger: Any, tenant_id: str) -> None:
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
    ledger: Any, tenant_id: str
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
    ledger: Any, tenant_id: str
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


def test_completing_refuses_another_tenants_task(ledger: Any, tenant_id: str) -> None:
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
