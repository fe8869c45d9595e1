"""Seed 000, the Baker store-back layer of the Sentinel pipeline, rebuilt on agentledger."""

from examples.sentinel_storeback.pipeline import (
    SentinelPipeline,
    SentinelResponse,
    StoreBackReport,
    TriggerEvent,
)
from examples.sentinel_storeback.storeback import SentinelStoreBack, sentinel_settings

__all__ = [
    "SentinelPipeline",
    "SentinelResponse",
    "SentinelStoreBack",
    "StoreBackReport",
    "TriggerEvent",
    "sentinel_settings",
]
