"""Driver errors become LedgerErrors by constraint name: the names the translator knows are
the schema's own, and a violation reads in the caller's terms."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors as pg

from agentledger import Ledger, NotFound, Unavailable
from agentledger.db.translate import CONSTRAINTS, translate


def test_every_translated_constraint_exists_in_the_migrated_schema(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT conname FROM pg_constraint"
            " WHERE connamespace = 'agentledger'::regnamespace AND conname = ANY(%s)",
            [list(CONSTRAINTS)],
        ).fetchall()
    assert sorted(name for (name,) in rows) == sorted(CONSTRAINTS)


@pytest.mark.parametrize("module", ["decisions", "alerts"])
def test_a_missing_run_is_not_found_naming_run_id(
    ledger: Ledger, tenant_id: str, module: str
) -> None:
    scope = ledger.tenant(tenant_id)
    with pytest.raises(NotFound, match=f"the {module[:-1]}'s run does not exist") as info:
        if module == "decisions":
            scope.decisions.record("a", decision_type="t", run_id=uuid.uuid4())
        else:
            scope.alerts.create(1, "t", run_id=uuid.uuid4())
    assert info.value.field == "run_id"
    assert info.value.detail["constraint"] == f"{module}_run_fk"


@pytest.mark.parametrize(
    ("error", "what"),
    [
        (pg.DiskFull, "disk space"),
        (pg.OutOfMemory, "memory"),
        (pg.TooManyConnections, "connections"),
    ],
)
def test_a_server_out_of_resources_is_unavailable_without_its_paths(
    error: type[psycopg.Error], what: str
) -> None:
    found = translate(error('could not extend file "base/16384/2619": No space left on device'))
    assert isinstance(found, Unavailable)
    assert what in found.message and "base/16384" not in found.message
