"""Tenants (active / suspended / archived) and their hashed API keys."""

from agentledger.tenants.records import (
    ApiKey as ApiKey,
    CreatedKey as CreatedKey,
    KeyIdentity as KeyIdentity,
    PurgeResult as PurgeResult,
    SignIn as SignIn,
    Tenant as Tenant,
)
