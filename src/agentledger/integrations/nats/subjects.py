"""Where an event goes in NATS: the subject ``<prefix>.<tenant>.<category>`` and the message.

The category is the event's stream name up to its first ``:`` or ``-`` (``order:42`` and
``order-42`` are both ``order``; a stream with neither is its own category). A subject token
keeps letters, digits, ``_`` and ``-``; any other character (``.``, ``*``, ``>``, spaces,
``:``, non-ASCII) becomes ``_``, so ``acme.eu`` is the token ``acme_eu``. Distinct names can
meet in one token: consumers that need the exact tenant or stream read the headers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentledger.errors import InvalidInput
from agentledger.events.records import Event

DEFAULT_PREFIX = "agentledger"
_OTHER = re.compile(r"[^A-Za-z0-9_-]")
_CATEGORY_END = re.compile(r"[:-]")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_STREAM = re.compile(r"[^\s.*>/\\\x00-\x1f\x7f]{1,200}")

# Headers every message carries beside its JSON body (Nats-Msg-Id is JetStream's own).
MSG_ID = "Nats-Msg-Id"
TENANT = "Agentledger-Tenant"
STREAM = "Agentledger-Stream"
VERSION = "Agentledger-Version"
POSITION = "Agentledger-Position"
TYPE = "Agentledger-Type"


def token(text: str) -> str:
    """``text`` as one subject token (never empty)."""
    return _OTHER.sub("_", text) or "_"


def category(stream: str) -> str:
    """The stream's category: its name up to the first ``:`` or ``-``."""
    return _CATEGORY_END.split(stream, maxsplit=1)[0]


def check_prefix(prefix: str) -> str:
    """A subject prefix: dot-separated tokens of letters, digits, ``_`` and ``-``."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InvalidInput(
            f"subject prefix {prefix!r} must be dot-separated tokens of letters, digits, "
            "'_' or '-'",
            field="prefix",
        )
    return prefix


def check_stream(name: object) -> str:
    """A JetStream stream name: 1-200 printable characters without whitespace, ``.``,
    ``*``, ``>``, ``/`` or ``\\`` (what the server and nats-py accept)."""
    if not isinstance(name, str) or not _STREAM.fullmatch(name):
        raise InvalidInput(
            f"stream {name!r} must be 1-200 printable characters without whitespace, '.', "
            "'*', '>', '/' or '\\'",
            field="stream",
        )
    return name


def captures(patterns: list[str], prefix: str) -> bool:
    """Whether one of a stream's subject ``patterns`` takes every ``<prefix>.<tenant>.<category>``
    (``>`` matches one token or more at the end, ``*`` any one token)."""
    wanted = [*prefix.split("."), "*", "*"]
    for pattern in patterns:
        tokens = pattern.split(".")
        for i, part in enumerate(tokens):
            if part == ">":
                return True
            if i >= len(wanted) or (part != "*" and part != wanted[i]):
                break
        else:
            if len(tokens) == len(wanted):
                return True
    return False


def subject(tenant_id: str, stream: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>.<tenant>.<category>`` for an event of ``stream`` in ``tenant_id``."""
    return f"{prefix}.{token(tenant_id)}.{token(category(stream))}"


def headers(tenant_id: str, event: Event) -> dict[str, str]:
    """The message headers: the event id as ``Nats-Msg-Id`` (JetStream drops a repeat within
    the stream's duplicate window), and the exact tenant, stream, version, position, type."""
    return {
        MSG_ID: str(event.event_id),
        TENANT: tenant_id,
        STREAM: event.stream,
        VERSION: str(event.version),
        POSITION: str(event.position),
        TYPE: event.type,
    }


def body(tenant_id: str, event: Event) -> bytes:
    """The message body: the event as a JSON object."""
    data: dict[str, Any] = {
        "event_id": str(event.event_id),
        "tenant_id": tenant_id,
        "stream": event.stream,
        "version": event.version,
        "position": event.position,
        "type": event.type,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "payload": event.payload,
        "metadata": event.metadata,
        "created_at": event.created_at.isoformat(),
    }
    return json.dumps(data, separators=(",", ":")).encode()
