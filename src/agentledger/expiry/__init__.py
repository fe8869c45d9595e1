"""Expiry of memory entities: times to live that hide entities once run out, and a sweep."""

from agentledger.expiry.records import (
    Found as Found,
)
