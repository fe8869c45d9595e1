"""A statement marked last carries COMMIT with it in its operation's own transaction, and
only there: inside a caller's transaction() it commits nothing."""

from __future__ import annotations

import uuid

import pytest

from agentledger import Ledger
from agentledger.db.binding import QUERIES, Binding
from agentledger.db.statements import Gen, operation


@operation(writes=False)
def _ping_then_more() -> Gen[int]:
    yield QUERIES.ping.scalar().then_commit()
    value: int = yield QUERIES.ping.scalar()
    return value


@operation(writes=False)
def _ping_last() -> Gen[int]:
    value: int = yield QUERIES.ping.scalar().then_commit()
    return value


def test_a_last_statement_ends_its_transaction(sync_ledger: Ledger) -> None:
    db = sync_ledger._db
    assert db is not None
    assert db.run(_ping_last(), Binding.platform()) == 1
    with db.pool.connection() as conn:  # back in the pool idle, its transaction ended
        assert conn.info.transaction_status.name == "IDLE"


def test_a_statement_after_the_last_is_a_programming_error(sync_ledger: Ledger) -> None:
    db = sync_ledger._db
    assert db is not None
    with pytest.raises(AssertionError, match="after the one marked last"):
        db.run(_ping_then_more(), Binding.platform())


def test_inside_a_transaction_the_last_statement_commits_nothing(sync_ledger: Ledger) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    scope = sync_ledger.tenant(tenant)
    task = scope.tasks.enqueue("tx")
    with pytest.raises(RuntimeError, match="abandon"), scope.transaction() as tx:
        [claimed] = tx.tasks.claim("tx")  # the claim's statement is marked last
        assert claimed.id == task.id
        tx.tasks.enqueue("tx")
        raise RuntimeError("abandon")
    assert scope.tasks.get(task.id).status == "pending"
    assert [t.id for t in scope.tasks.list(queue="tx")] == [task.id]
