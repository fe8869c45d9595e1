"""Tiered alerts (1 urgent, 2 important, 3 info) with dedup and a LISTEN/NOTIFY channel."""

from agentledger.alerts.records import ALERTS_CHANNEL, Alert, AlertNotice

__all__ = ["ALERTS_CHANNEL", "Alert", "AlertNotice"]
