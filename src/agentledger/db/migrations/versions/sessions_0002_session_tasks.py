"""Tasks of a session: the database counts them and lists them by session.

A task names its session in ``tasks.session_id`` (text, as the task queue has carried it
from the start). A row trigger adds each new task naming a session of the tenant to that
session's ``task_count`` and notes the session's activity; a task naming no session, or
text that is no session's id, costs nothing more (the trigger's WHEN skips it, or the
update finds no row). ``task_count`` counts the tasks created in the session: finishing,
archiving or cancelling one leaves it counted. A partial index serves listing a session's
tasks. The revision joins the sessions and tasks branches (it needs both tables), so later
revisions of either go on from it. Deleting a session may take its tasks, archived ones
too (the app role may delete from the archive).

Revision ID: sessions_0002
Revises: sessions_0001, tasks_0004
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "sessions_0002"
down_revision = ("sessions_0001", "tasks_0004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only the validated app role is interpolated.
    op.execute(f"""
    CREATE INDEX tasks_session_idx ON agentledger.tasks (tenant_id, session_id, id)
        WHERE session_id IS NOT NULL;

    CREATE FUNCTION agentledger.session_count_task() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $fn$
    BEGIN
        IF NEW.session_id
            ~* ('^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-' || '[0-9a-f]{{4}}-[0-9a-f]{{12}}$')
        THEN
            UPDATE agentledger.sessions s
            SET task_count = s.task_count + 1, last_activity = now()
            WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.session_id::uuid;
        END IF;
        RETURN NULL;
    END
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.session_count_task() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.session_count_task() TO "{role}";
    CREATE TRIGGER tasks_session_count AFTER INSERT ON agentledger.tasks
        FOR EACH ROW WHEN (NEW.session_id IS NOT NULL)
        EXECUTE FUNCTION agentledger.session_count_task();
    -- Deleting a session with its tasks takes their archived rows too.
    GRANT DELETE ON agentledger.task_archive TO "{role}";
    """)


def downgrade() -> None:
    op.execute(f"""
    REVOKE DELETE ON agentledger.task_archive FROM "{app_role()}";
    DROP TRIGGER tasks_session_count ON agentledger.tasks;
    DROP FUNCTION agentledger.session_count_task();
    DROP INDEX agentledger.tasks_session_idx;
    """)
