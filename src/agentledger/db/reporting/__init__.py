"""Reporting for BI tools: the login roles that read the ``agentledger_reporting`` views."""

from agentledger.db.reporting.grants import (
    REPORTING_ROLE as REPORTING_ROLE,
    Granted as Granted,
    ReportingGrant as ReportingGrant,
    Revoked as Revoked,
    check_role_name as check_role_name,
    grant as grant,
    list_grants as list_grants,
    login_url as login_url,
    revoke as revoke,
)
