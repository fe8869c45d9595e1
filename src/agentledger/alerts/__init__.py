"""Tiered alerts (1 urgent, 2 important, 3 info) with dedup and a LISTEN/NOTIFY channel."""

from agentledger.alerts.records import (
    ALERTS_CHANNEL as ALERTS_CHANNEL,
    Alert as Alert,
    AlertNotice as AlertNotice,
)
