"""A statement marked alone is its operation's whole transaction: run on its own it travels
with its binding in the pipeline's implicit transaction (no BEGIN, no COMMIT); inside a
caller's transaction() it commits nothing."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest

from agentledger import Ledger, NotFound
from agentledger.config import Settings
from agentledger.db.binding import QUERIES, Binding
from agentledger.db.database_sync import Database
from agentledger.db.statements import Gen, Op, Queries, operation, yields_once
from tests.protocol_trace import traced

Q = Queries.beside(__file__, "lone_ops.sql")


@operation(writes=False)
def _ping_then_more() -> Gen[int]:
    yield QUERIES.ping.scalar().alone()
    value: int = yield QUERIES.ping.scalar()
    return value


@operation(writes=False)
def _ping_alone() -> Gen[int]:
    value: int = yield QUERIES.ping.scalar().alone()
    return value


def test_a_lone_statement_ends_its_transaction(sync_ledger: Ledger) -> None:
    db = sync_ledger._db
    assert db is not None
    assert db.run(_ping_alone(), Binding.platform()) == 1
    with db.pool.connection() as conn:  # back in the pool idle, its transaction ended
        assert conn.info.transaction_status.name == "IDLE"


def test_a_statement_after_a_lone_one_is_a_programming_error(sync_ledger: Ledger) -> None:
    db = sync_ledger._db
    assert db is not None
    with pytest.raises(AssertionError, match="marked alone"):
        db.run(_ping_then_more(), Binding.platform())


def test_inside_a_transaction_a_lone_statement_commits_nothing(sync_ledger: Ledger) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    scope = sync_ledger.tenant(tenant)
    task = scope.tasks.enqueue("tx")
    with pytest.raises(RuntimeError, match="abandon"), scope.transaction() as tx:
        [claimed] = tx.tasks.claim("tx")  # the claim's statement is marked alone
        assert claimed.id == task.id
        tx.tasks.enqueue("tx")
        raise RuntimeError("abandon")
    assert scope.tasks.get(task.id).status == "pending"
    assert [t.id for t in scope.tasks.list(queue="tx")] == [task.id]


@operation(writes=False)
def _session_state(generic: bool) -> Gen[dict[str, Any]]:
    query = Q.session_state_generic if generic else Q.session_state
    row = yield query.one().alone()
    return dict(row)


def test_a_lone_statement_runs_with_its_binding_in_one_transaction(
    settings: Settings,
) -> None:
    """No BEGIN and no COMMIT: the binding and the statement share the pipeline's implicit
    transaction (a binding lasts only as long as its transaction), the Sync commits it, and
    the generic-plan setting goes with it without a warning."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    notices: list[str] = []
    with Ledger(settings.model_copy(update={"pool_max_size": 1}), migrate=False) as ledger:
        ledger.tenants.create(tenant)
        db = ledger._db
        assert db is not None
        with db.pool.connection() as conn:
            conn.add_notice_handler(lambda d: notices.append(str(d.message_primary)))
        for generic in (False, True, False):
            state = db.run(_session_state(generic), Binding.to_tenant(tenant))
            plan = "force_generic_plan" if generic else "auto"
            assert state == {"tenant": tenant, "plan_mode": plan}
        with db.pool.connection() as conn:
            assert conn.info.transaction_status.name == "IDLE"
            after = conn.execute(
                "SELECT current_setting('agentledger.tenant_id', true) AS tenant, "
                "current_setting('plan_cache_mode') AS plan_mode"
            ).fetchone()
    assert after is not None and after["tenant"] in (None, "") and after["plan_mode"] == "auto"
    assert notices == []


def test_a_lone_statement_that_fails_leaves_the_connection_idle(sync_ledger: Ledger) -> None:
    db = sync_ledger._db
    assert db is not None
    with pytest.raises(NotFound, match="missing-"):
        db.run(_session_state(True), Binding.to_tenant(f"missing-{uuid.uuid4().hex[:8]}"))
    with db.pool.connection() as conn:
        assert conn.info.transaction_status.name == "IDLE"
    assert db.run(_ping_alone(), Binding.platform()) == 1


def test_a_statement_run_many_times_is_never_alone() -> None:
    with pytest.raises(ValueError, match="never alone"):
        QUERIES.ping.many([{}, {}]).alone()


@operation(writes=False)
def _state_read() -> Gen[dict[str, Any]]:
    row = yield Q.session_state.one()
    return dict(row)


@operation(writes=True, idempotent=False)
def _state_write() -> Gen[dict[str, Any]]:
    row = yield Q.session_state.one()
    return dict(row)


@operation(writes=False)
def _state_twice() -> Gen[dict[str, Any]]:
    row = {}
    for _ in range(2):
        row = yield Q.session_state.one()
    return dict(row)


def _plain() -> Gen[int]:
    value: int = yield QUERIES.ping.scalar()
    return value


def _looped() -> Gen[int]:
    value = 0
    while value == 0:
        value = yield QUERIES.ping.scalar()
    return value


def _delegating() -> Gen[int]:
    return (yield from _plain())


def _two() -> Gen[int]:
    yield QUERIES.ping.scalar()
    value: int = yield QUERIES.ping.scalar()
    return value


def _nested() -> Gen[int]:
    def inner() -> Gen[int]:
        yield QUERIES.ping.scalar()
        inner_value: int = yield QUERIES.ping.scalar()
        return inner_value

    del inner
    value: int = yield QUERIES.ping.scalar()
    return value


def test_yields_once_reads_the_operations_source() -> None:
    assert yields_once(_plain) and yields_once(_nested)
    assert not yields_once(_looped)
    assert not yields_once(_delegating)
    assert not yields_once(_two)
    assert _state_read().single and not _state_twice().single


def _run_into(out: list[Any], op: Op[Any], binding: Binding, db: Database) -> None:
    out.append(db.run(op, binding))


def test_an_idempotent_operation_of_one_statement_sends_no_begin_or_commit(
    settings: Settings,
) -> None:
    """Reads and idempotent writes of one statement commit with the pipeline's Sync; a
    non-idempotent write keeps BEGIN and COMMIT (a dead connection is retried), and so does
    an operation that may yield twice."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with Ledger(settings.model_copy(update={"pool_max_size": 1}), migrate=False) as ledger:
        ledger.tenants.create(tenant)
        binding = Binding.to_tenant(tenant)
        for op, begins in ((_state_read, False), (_state_write, True), (_state_twice, True)):
            out: list[dict[str, Any]] = []
            sent = traced(ledger, functools.partial(_run_into, out, op(), binding))
            assert out == [{"tenant": tenant, "plan_mode": "auto"}]
            assert ("BEGIN" in sent) is begins, op.__name__
            assert ("COMMIT" in sent) is begins, op.__name__
            assert "Sync" in sent
        with ledger._db.pool.connection() as conn:  # type: ignore[union-attr]
            assert conn.info.transaction_status.name == "IDLE"
