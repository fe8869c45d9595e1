"""What a transaction is bound to: one tenant, or the platform (tenant administration)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agentledger.db.statements import Queries, Stmt
from agentledger.errors import InvalidInput

QUERIES = Queries.beside(__file__)
TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_tenant_id(tenant_id: object) -> str:
    if not isinstance(tenant_id, str) or not TENANT_ID.fullmatch(tenant_id):
        raise InvalidInput(
            f"tenant id {tenant_id!r} is invalid: use 1-64 letters, digits, '_', '.', ':' or '-'",
            field="tenant_id",
        )
    return tenant_id


@dataclass(frozen=True, slots=True)
class Binding:
    """A tenant id, or None for the platform scope."""

    tenant: str | None

    @classmethod
    def to_tenant(cls, tenant_id: str) -> Binding:
        return cls(check_tenant_id(tenant_id))

    @classmethod
    def platform(cls) -> Binding:
        return cls(None)

    def statement(self, carried: Mapping[str, str] | None = None) -> Stmt:
        """The statement that binds a transaction; with ``carried`` (a transaction-mode
        pooler's connections: db/connect.py), it also sets those session settings."""
        if carried is None:
            if self.tenant is None:
                return QUERIES.bind_platform.none()
            return QUERIES.bind_tenant.none(tenant=self.tenant)
        if self.tenant is None:
            return QUERIES.bind_platform_pooled.none(**carried)
        return QUERIES.bind_tenant_pooled.none(tenant=self.tenant, **carried)
