"""How inputs for one entity merge: the Python twin of the upsert's merge, for the inputs of
one batch that share a key (merged before the statement, as the database would merge them)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def merge_rows(old: dict[str, Any], new: dict[str, Any], mode: str) -> dict[str, Any]:
    """Two inputs for one entity in a batch, merged the way the database merges them
    (``mode``: "shallow", "deep" or "replace", as ``upsert``'s ``merge``)."""
    merged = dict(new)
    for field in ("name", "summary", "relevance", "session_id"):
        if new[field] is None:
            merged[field] = old[field]
    # Each input's vectors, in order: the spaces they name are known once read, and then a
    # later input's replaces an earlier one's in the same space (spaces.placed).
    merged["embedding"] = old["embedding"] + new["embedding"]
    # "replace" keeps the later input's attrs and tags as they are.
    if mode != "replace":
        merged["attrs"] = (
            merge_deep(old["attrs"], new["attrs"])
            if mode == "deep"
            else {**old["attrs"], **new["attrs"]}
        )
        merged["tags"] = sorted(set(old["tags"]) | set(new["tags"]))
    merged["shared"] = old["shared"] or new["shared"]
    merged["repeats"] = old["repeats"] + 1
    # The later of the two moments (None: now) is the update's, as the database keeps the
    # later; a new entity was created at the first input's, as one-by-one upserts leave it.
    if old["at"] is None or new["at"] is None:
        merged["at"] = None
    else:
        merged["at"] = max(old["at"], new["at"], key=dt.datetime.fromisoformat)
    merged["first_at"] = old["first_at"]
    return merged


def merge_deep(old: Any, new: Any) -> Any:
    """``new`` merged into ``old`` as ``agentledger.jsonb_merge_deep`` does (memory_0007):
    objects key by key at every depth, a None never overwrites, anything else replaces."""
    if new is None:
        return old
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for k, x in new.items():
            if x is not None:
                out[k] = merge_deep(old.get(k), x)
        return out
    return strip_nulls(new)


def strip_nulls(value: Any) -> Any:
    """``value`` without its None object members at any depth (as ``jsonb_strip_nulls``)."""
    if isinstance(value, dict):
        return {k: strip_nulls(x) for k, x in value.items() if x is not None}
    if isinstance(value, list):
        return [strip_nulls(x) for x in value]
    return value


def mergeable(old: Any, new: Any, mode: str) -> bool:
    """Whether merging ``new`` into ``old`` first and the result into a stored value equals
    merging them into it one by one: not when a deep merge's ``new`` puts an object where
    ``old`` put a scalar or an array, which the stored object would be merged into again."""
    if mode != "deep" or not isinstance(new, dict):
        return True
    if not isinstance(old, dict):
        return old is None
    return all(mergeable(old.get(k), x, "deep") for k, x in new.items())
