"""Natural keys: the dedup key an entity is upserted by (``(tenant, user, dedup_key)`` is
unique), from ``source`` + ``key`` (exact), or ``kind`` + ``name`` (folded: see
``folded_name``), or none (a fresh id: every write inserts)."""

from __future__ import annotations

import json
import unicodedata

from agentledger import validation as v
from agentledger.errors import InvalidInput
from agentledger.ids import new_id_text


def natural_dedup(key: str | None, source: str, kind: str | None, name: str | None) -> str:
    """The dedup key of a natural key: source + key, or kind + name."""
    if key is not None:
        return key_dedup(source, key)
    if kind is not None and name is not None:
        return name_dedup(kind, name)
    raise InvalidInput("give key (and source), or kind and name", field="key")


def key_dedup(source: str, key: str) -> str:
    return json.dumps(
        ["key", v.text("source", source, max_len=200, min_len=0), v.text("key", key, max_len=500)]
    )


def name_dedup(kind: str, name: str) -> str:
    kind = v.text("kind", kind, max_len=100, strip=True)
    name = v.text("name", name, max_len=1000, strip=True)
    return json.dumps(["name", kind, folded_name(name)])


def folded_name(name: str) -> str:
    """``name`` as a by-name key compares it: white space collapsed, case folded, and the
    forms Unicode counts as the same text made one (NFKC), so that "José" with its accent
    composed or combined, or "ＡＢＣ" and "abc", name one entity. memory_0019 re-keyed the
    entities stored before with this same folding."""
    text = " ".join(name.split()).casefold()  # the folding before memory_0019
    nfkc = unicodedata.normalize("NFKC", text)
    return unicodedata.normalize("NFKC", " ".join(nfkc.split()).casefold())


def fresh_dedup() -> str:
    """The dedup key of an entity without a natural key: its own, never repeated."""
    return json.dumps(["id", new_id_text()])
