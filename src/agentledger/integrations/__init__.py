"""Integrations of agentledger with other frameworks, each behind its own optional extra."""
