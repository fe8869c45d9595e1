"""Alert requests: the client-side ids of alert raises folded into another alert by dedup.

A raise that creates an alert is remembered by the alert's own id; a raise that only bumps
an open alert's counter (its dedup key matched) is remembered here, so repeating it — a
retry, a spool replay — returns that alert instead of counting the occurrence twice.

Revision ID: audit_0002
Revises: audit_0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import tenant_table

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None

ALERT_REQUESTS = """
CREATE TABLE agentledger.alert_requests (
    tenant_id   text NOT NULL REFERENCES agentledger.tenants (id),
    request_id  uuid NOT NULL,
    alert_id    uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, request_id),
    CONSTRAINT alert_requests_alert_fk FOREIGN KEY (tenant_id, alert_id)
        REFERENCES agentledger.alerts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX alert_requests_alert ON agentledger.alert_requests (tenant_id, alert_id);
"""


def upgrade() -> None:
    op.execute(ALERT_REQUESTS)
    op.execute(tenant_table("alert_requests", "SELECT, INSERT"))


def downgrade() -> None:
    op.execute("DROP TABLE agentledger.alert_requests")
