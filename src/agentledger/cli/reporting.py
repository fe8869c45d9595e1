"""``agentledger reporting``: read-only logins for BI tools."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from agentledger.cli import common
from agentledger.db import reporting
from agentledger.db.connect import owner_url

reporting_app = typer.Typer(
    help="Reporting logins for BI tools (read-only views): grant, revoke, list.",
    no_args_is_help=True,
)

# Where `reporting grant --password` reads the new login's password before it prompts.
REPORTING_PASSWORD_ENV = "AGENTLEDGER_REPORTING_PASSWORD"
Login = Annotated[str, typer.Argument(help="The login role the BI tool connects as.")]


@reporting_app.command("grant")
def reporting_grant(
    role: Login,
    tenant: Annotated[str | None, typer.Option(help="The tenant it may read.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Every tenant (the platform's reporting).")
    ] = False,
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help=f"Create the role when missing; its password from {REPORTING_PASSWORD_ENV}"
            " or a prompt (never an argument).",
        ),
    ] = False,
) -> None:
    """Let a login read a tenant's rows (or every tenant's) through the reporting views."""
    reporting.check_role_name(role)  # before asking for its password
    secret = None
    if password:
        secret = os.environ.get(REPORTING_PASSWORD_ENV) or typer.prompt(
            f"password for {role}", hide_input=True, confirmation_prompt=True
        )
    url = owner_url(common.settings())
    done = reporting.grant(url, role, tenant_id=tenant, all_tenants=all_tenants, password=secret)
    if done.role_created:
        common.out.print(f"created login role [bold]{role}[/]")
    scope = "every tenant" if done.grant.tenant_id is None else f"tenant {done.grant.tenant_id}"
    common.out.print(f"{role} may read {scope} through the {reporting.REPORTING_ROLE} views")
    common.out.print(f"connect as: {reporting.login_url(url, role)}", markup=False)


@reporting_app.command("revoke")
def reporting_revoke(
    role: Login,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's grant.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Only the every-tenant grant.")
    ] = False,
) -> None:
    """Withdraw a grant; with neither option, every grant and the role's membership (the
    login itself stays)."""
    done = reporting.revoke(
        owner_url(common.settings()),
        role,
        tenant_id=tenant,
        all_tenants=all_tenants,
    )
    common.out.print(
        f"withdrew {done.grants} grant(s) from {role}"
        + (
            f"; {role} is no longer a member of {reporting.REPORTING_ROLE}"
            if done.membership
            else ""
        )
    )


@reporting_app.command("list")
def reporting_list(
    role: Annotated[str | None, typer.Option(help="Only this login's grants.")] = None,
) -> None:
    """Every reporting grant: login, tenant, when, and whether the login is a member."""
    grants = reporting.list_grants(owner_url(common.settings()), role)
    table = Table("role", "tenant", "granted", "member")
    for g in grants:
        table.add_row(
            g.role,
            "(every tenant)" if g.tenant_id is None else g.tenant_id,
            f"{g.granted_at:%Y-%m-%d %H:%M}",
            "yes" if g.member else "no",
        )
    common.out.print(table)
