"""The task lifecycle table is the one description of a task's states and moves: every
status the SQL names and every status the table's CHECK constraint allows is one of its
states, and the claim moves a task as the table says."""

from __future__ import annotations

import re

import psycopg
import pytest

from agentledger import IllegalTransition
from agentledger.tasks.cycle import OUTCOME_ACTIONS
from agentledger.tasks.ops import Q
from agentledger.tasks.records import TASK_LIFECYCLE, TASKS_CHANNEL

# Quoted words in tasks/queries.sql that are not statuses: the outcomes' actions, the
# wake-up channel, and a key of the outcomes' JSON.
NOT_STATUSES = {*OUTCOME_ACTIONS, TASKS_CHANNEL, "token"}


def test_the_statuses_the_sql_names_are_the_lifecycle_s_states() -> None:
    sql = "\n".join(query.sql for query in Q.by_name.values())  # comments left out
    named = set(re.findall(r"'([a-z_]+)'", sql)) - NOT_STATUSES
    assert named == set(TASK_LIFECYCLE.states)


def test_a_claim_moves_a_task_as_the_lifecycle_says() -> None:
    """A claim takes a pending task, or rescues a running one whose lease expired: it runs
    again, or goes dead when its attempts are spent."""
    assert set(TASK_LIFECYCLE.sources("claim")) == {"pending", "running"}
    assert TASK_LIFECYCLE.sources("expire") == ["running"]
    claimed, expired = TASK_LIFECYCLE.target("claim"), TASK_LIFECYCLE.target("expire")
    assert (claimed, expired) == ("running", "dead")
    assert f"THEN '{expired}' ELSE '{claimed}' END" in Q.settle_and_claim.sql
    with pytest.raises(IllegalTransition, match="cannot expire task in state 'pending'"):
        TASK_LIFECYCLE.check("expire", "pending")


def test_the_status_check_constraint_allows_exactly_the_states(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'agentledger.tasks'::regclass AND contype = 'c'"
        ).fetchall()
    allowed = [
        re.findall(r"'(\w+)'::text", found.group(1))
        for (definition,) in rows
        if (found := re.fullmatch(r"CHECK \(\(status = ANY \(ARRAY\[(.*)\]\)\)\)", definition))
    ]
    assert [sorted(states) for states in allowed] == [sorted(TASK_LIFECYCLE.states)]
