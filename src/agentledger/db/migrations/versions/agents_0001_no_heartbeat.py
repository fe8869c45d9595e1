"""Agents: an agent may be registered without a heartbeat to keep.

A scheduled agent (one that runs weekly, say) sends no heartbeat between its runs, and a
registry that showed it ``offline`` a minute after each run would be wrong about it. A
NULL ``heartbeat_timeout`` now means the agent is not watched by heartbeat: its status is
the one it last reported, whatever the time since its last heartbeat. An agent with a
timeout is shown ``offline`` once its heartbeat is overdue, as before.

The agent registry was created with the task queue (revision ``tasks_0001``); this branch
starts there.

Revision ID: agents_0001
Revises: tasks_0001
"""

from __future__ import annotations

from alembic import op

revision = "agents_0001"
down_revision = "tasks_0001"
branch_labels = ("agents",)
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE agentledger.agents ALTER COLUMN heartbeat_timeout DROP NOT NULL;
    COMMENT ON COLUMN agentledger.agents.heartbeat_timeout IS
        'Seconds without a heartbeat before the agent is shown offline; NULL: never';
    -- What callers see: an agent whose heartbeat is overdue is offline, whatever it
    -- reported; an agent without a timeout shows what it reported.
    CREATE OR REPLACE FUNCTION agentledger.agent_status(
        p_status text, p_beat timestamptz, p_timeout double precision
    ) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN p_timeout IS NULL THEN p_status
                WHEN p_beat IS NULL OR p_beat < now() - make_interval(secs => p_timeout)
                THEN 'offline' ELSE p_status END;
    """)


def downgrade() -> None:
    op.execute("""
    CREATE OR REPLACE FUNCTION agentledger.agent_status(
        p_status text, p_beat timestamptz, p_timeout double precision
    ) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN p_beat IS NULL OR p_beat < now() - make_interval(secs => p_timeout)
                THEN 'offline' ELSE p_status END;
    UPDATE agentledger.agents SET heartbeat_timeout = 60 WHERE heartbeat_timeout IS NULL;
    COMMENT ON COLUMN agentledger.agents.heartbeat_timeout IS NULL;
    ALTER TABLE agentledger.agents ALTER COLUMN heartbeat_timeout SET NOT NULL;
    """)
