"""Integrations with agent frameworks and protocols, each behind its own optional extra."""
