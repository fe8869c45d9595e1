"""What a tenant scope and an open transaction hand their modules, on both faces."""

from __future__ import annotations

from typing import Any

import pytest

from agentledger import Ledger, Task


def _handle(task: Task) -> dict[str, Any]:
    return {}


def test_workers_start_from_a_tenant_scope_not_inside_a_transaction(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    assert scope.tasks.worker("q", _handle) is not None  # built, not run
    with scope.transaction() as tx:
        assert tx.tenant_id == tenant_id
        with pytest.raises(RuntimeError, match="not inside a transaction"):
            tx.tasks.worker("q", _handle)
