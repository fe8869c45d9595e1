"""What a transaction is bound to: one tenant, or the platform (tenant administration)."""

from __future__ import annotations

import re
from collections.abc import Collection
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

    def statement(self) -> Stmt:
        if self.tenant is None:
            return QUERIES.bind_platform.none()
        return QUERIES.bind_tenant.none(tenant=self.tenant)

    def wake(self, channels: Collection[str]) -> Stmt | None:
        """The wake-up of ``channels``' listeners after a committed transaction of this
        tenant (the tenant id is the payload); None when there is nothing to wake."""
        if not channels or self.tenant is None:
            return None
        if len(channels) == 1:
            (channel,) = channels
            return QUERIES.wake_listener.none(channel=channel, payload=self.tenant)
        return QUERIES.wake_listeners.none(channels=sorted(channels), payload=self.tenant)
