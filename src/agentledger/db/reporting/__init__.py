"""Reporting for BI tools: the login roles that read the ``agentledger_reporting`` views."""

from agentledger.db.reporting.grants import (
    REPORTING_ROLE,
    Granted,
    ReportingGrant,
    Revoked,
    check_role_name,
    grant,
    list_grants,
    login_url,
    revoke,
)

__all__ = [
    "REPORTING_ROLE",
    "Granted",
    "ReportingGrant",
    "Revoked",
    "check_role_name",
    "grant",
    "list_grants",
    "login_url",
    "revoke",
]
