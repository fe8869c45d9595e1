"""A statement marked final is its operation's last: when an idempotent operation runs as
a transaction of its own, COMMIT travels in that statement's round trip; a failure there
commits nothing, and inside a caller's transaction the mark commits nothing either."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentledger import Ledger, LedgerError
from agentledger.config import Settings
from agentledger.db.binding import QUERIES, Binding
from agentledger.db.database_sync import Database
from agentledger.db.statements import Gen, Queries, operation
from tests.protocol_trace import traced

Q = Queries.beside(__file__, "final_ops.sql")


def _mark_then_read(name: str, divisor: int) -> Gen[int]:
    yield Q.save_mark.none(name=name, position=7)
    yield Q.divide.scalar(by=divisor)
    position: int = yield Q.read_mark.scalar(name=name).final()
    return position


mark_idempotent = operation(idempotent=True)(_mark_then_read)
mark_once = operation(idempotent=False)(_mark_then_read)


@operation(idempotent=True)
def _final_then_more() -> Gen[int]:
    yield QUERIES.ping.scalar().final()
    value: int = yield QUERIES.ping.scalar()
    return value


@operation(writes=False)
def _read_mark(name: str) -> Gen[int | None]:
    position: int | None = yield Q.read_mark.scalar(name=name)
    return position


@pytest.fixture(scope="module")
def ledger(settings: Settings) -> Iterator[Ledger]:
    """One pooled connection, so a trace of it sees every message an operation sends."""
    with Ledger(settings.model_copy(update={"pool_max_size": 1}), migrate=False) as one:
        yield one


@pytest.fixture(scope="module")
def binding(ledger: Ledger) -> Binding:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(tenant)
    return Binding.to_tenant(tenant)


def _db(ledger: Ledger) -> Database:
    assert ledger._db is not None
    return ledger._db


def _sent(ledger: Ledger, run: Callable[[Database], Any]) -> list[str]:
    """The protocol messages the client sent while ``run`` ran, one per line."""
    return [line for line in traced(ledger, run).splitlines() if line.startswith("F")]


def _idle(ledger: Ledger) -> bool:
    with _db(ledger).pool.connection() as conn:
        return conn.info.transaction_status.name == "IDLE"


def test_an_idempotent_operation_commits_with_its_final_statement(
    ledger: Ledger, binding: Binding
) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    out: list[int] = []
    sent = _sent(ledger, lambda db: out.append(db.run(mark_idempotent(name, 1), binding)))
    assert out == [7]
    syncs = [i for i, line in enumerate(sent) if "Sync" in line]
    commit = next(i for i, line in enumerate(sent) if "COMMIT" in line)
    # BEGIN, binding and the first two statements; then the final one with COMMIT.
    assert len(syncs) == 2 and syncs[0] < commit < syncs[1], sent
    assert _idle(ledger)
    assert _db(ledger).run(_read_mark(name), binding) == 7


def test_an_operation_that_is_not_idempotent_keeps_commit_apart(
    ledger: Ledger, binding: Binding
) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    sent = _sent(ledger, lambda db: db.run(mark_once(name, 1), binding))
    syncs = [i for i, line in enumerate(sent) if "Sync" in line]
    commit = next(i for i, line in enumerate(sent) if "COMMIT" in line)
    assert len(syncs) == 3 and syncs[1] < commit < syncs[2], sent
    assert _db(ledger).run(_read_mark(name), binding) == 7


def test_a_failure_before_the_final_statement_commits_nothing(
    ledger: Ledger, binding: Binding
) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    with pytest.raises(LedgerError):
        _db(ledger).run(mark_idempotent(name, 0), binding)
    assert _idle(ledger)
    assert _db(ledger).run(_read_mark(name), binding) is None


def test_inside_a_transaction_a_final_statement_commits_nothing(
    ledger: Ledger, binding: Binding
) -> None:
    name = f"m-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="abandon"), _db(ledger).transaction(binding) as tx:
        assert tx.run(mark_idempotent(name, 1)) == 7
        raise RuntimeError("abandon")
    assert _db(ledger).run(_read_mark(name), binding) is None


def test_a_statement_after_a_final_one_is_a_programming_error(
    ledger: Ledger, binding: Binding
) -> None:
    with pytest.raises(AssertionError, match="marked final"):
        _db(ledger).run(_final_then_more(), binding)
    assert _idle(ledger)


def test_a_statement_run_many_times_is_never_final() -> None:
    with pytest.raises(ValueError, match="never final"):
        QUERIES.ping.many([{}, {}]).final()
