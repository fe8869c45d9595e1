"""A statement marked ``-- plan: generic`` always runs with its generic plan: a worker's
cycle is never planned anew for the claim size at hand."""

from __future__ import annotations

import uuid
from pathlib import Path

from agentledger import Ledger
from agentledger.config import Settings
from agentledger.db.statements import Queries
from agentledger.tasks.ops import Q


def test_the_directive_marks_the_query_and_stays_out_of_its_doc(tmp_path: Path) -> None:
    path = tmp_path / "queries.sql"
    path.write_text(
        "-- name: marked\n-- plan: generic\n-- Why it exists.\nSELECT 1\n\n"
        "-- name: plain\n-- Why this one exists.\nSELECT 2\n"
    )
    queries = Queries(path)
    assert queries.marked.generic and queries.marked.doc == "Why it exists."
    assert not queries.plain.generic
    assert Q.settle_and_claim.generic


def test_small_claims_never_get_a_custom_plan(settings: Settings) -> None:
    """PostgreSQL plans a prepared statement for its values at least five times before it
    considers the generic plan (and keeps doing so while that looks cheaper, as it does for
    a claim of one). Here no cycle was planned for its values."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with Ledger(settings.model_copy(update={"pool_max_size": 1}), migrate=False) as ledger:
        ledger.tenants.create(tenant)
        tasks = ledger.tenant(tenant).tasks
        tasks.enqueue_many("plans", [{"i": i} for i in range(30)])
        worker = tasks.worker("plans", lambda task: None, concurrency=1)
        assert worker.run(until_empty=True).completed == 30
        db = ledger._db
        assert db is not None
        with db.pool.connection() as conn:
            plans = conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE %s",
                (Q.settle_and_claim.sql.splitlines()[0] + "%",),
            ).fetchall()
    # 31 cycles (30 claims of one, then the last settle): the first five run unprepared.
    assert [(p["generic_plans"], p["custom_plans"]) for p in plans] == [(26, 0)]
