"""The difference between two JSON values, as added, removed and changed JSON Pointer paths.

Objects compare key by key and arrays position by position, at any depth; a value whose
JSON type changes (an object becoming an array, ``1`` becoming ``true``) is one change at
its path. An element inserted at the front of an array therefore shows as changes down the
array and one addition at its end: the paths say where the documents differ, not how one
was edited into the other.
"""

from __future__ import annotations

from typing import Any

from agentledger.catalog.records import DiffEntry
from agentledger.jsonvalues import same


def pointer(path: str, key: str | int) -> str:
    """``path`` extended by one key (RFC 6901: ``~`` and ``/`` escaped)."""
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def diff_json(old: Any, new: Any) -> tuple[list[DiffEntry], list[DiffEntry], list[DiffEntry]]:
    """(added, removed, changed) entries from ``old`` to ``new``, each in path order."""
    added: list[DiffEntry] = []
    removed: list[DiffEntry] = []
    changed: list[DiffEntry] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(a.keys() | b.keys()):
                here = pointer(path, key)
                if key not in b:
                    removed.append(DiffEntry(path=here, old=a[key]))
                elif key not in a:
                    added.append(DiffEntry(path=here, new=b[key]))
                else:
                    walk(a[key], b[key], here)
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                here = pointer(path, i)
                if i >= len(b):
                    removed.append(DiffEntry(path=here, old=a[i]))
                elif i >= len(a):
                    added.append(DiffEntry(path=here, new=b[i]))
                else:
                    walk(a[i], b[i], here)
        elif not same(a, b):
            changed.append(DiffEntry(path=path, old=a, new=b))

    walk(old, new, "")
    return added, removed, changed
