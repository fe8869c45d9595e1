"""Tenants (active / suspended / archived) and their hashed API keys."""

from agentledger.tenants.records import ApiKey, CreatedKey, KeyIdentity, Tenant

__all__ = ["ApiKey", "CreatedKey", "KeyIdentity", "Tenant"]
