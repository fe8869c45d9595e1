"""By-name keys fold the forms Unicode counts as the same text into one (NFKC).

An entity upserted by kind + name is keyed by its name with white space collapsed and
case folded. Before this revision the folding stopped there, so "José" typed with a
composed é and with an e and a combining accent (as macOS file names carry it) made two
entities; so did "ＡＢＣ" and "abc". From now on the key is also normalised (NFKC, case
folded again, NFKC: ``memory.keys.folded_name``), and this revision re-keys the
entities stored before.

Only keys with a non-ASCII character can change (the keys are JSON with ASCII escapes, so
they carry a ``\\u``). Where two stored entities of one user now share a key, the oldest
takes it and the others keep theirs (they stay, reachable by id, as they were); a key
another entity already holds is left alone too. The downgrade keeps the new keys: the
folding is not undone, and the earlier code matches them as it matched any key.

Offline (``--sql``) the re-keying is skipped: it reads the rows it changes.

Revision ID: memory_0019
Revises: memory_0018
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from alembic import context, op

revision = "memory_0019"
down_revision = "memory_0018"
branch_labels = None
depends_on = None

BATCH = 1000

# The entities whose by-name key may change: a name key with an escaped character.
CANDIDATES = """
SELECT tenant_id, user_id, id, dedup_key FROM agentledger.memory_entities
WHERE starts_with(dedup_key, '["name",') AND strpos(dedup_key, chr(92) || 'u') > 0
ORDER BY tenant_id, user_id, created_at, id
"""
TAKEN = """
SELECT 1 FROM agentledger.memory_entities
WHERE tenant_id = %(tenant_id)s AND user_id = %(user_id)s AND dedup_key = %(dedup_key)s
"""
# Each tenant's rows are changed bound to that tenant, so that an owner that is not a
# superuser passes the tenant policy.
BIND = "SELECT set_config('agentledger.tenant_id', %(tenant_id)s, true)"
REKEY = """
UPDATE agentledger.memory_entities SET dedup_key = %(dedup_key)s
WHERE tenant_id = %(tenant_id)s AND id = %(id)s
"""


def refolded(key: str) -> str:
    """A by-name key as the new folding makes it (of the name the old one folded)."""
    tag, kind, text = json.loads(key)
    nfkc = unicodedata.normalize("NFKC", text)
    return json.dumps([tag, kind, unicodedata.normalize("NFKC", " ".join(nfkc.split()).casefold())])


def upgrade() -> None:
    if context.is_offline_mode():
        return
    conn = op.get_bind()
    # The new key of each candidate whose key changes, by (tenant, user, new key); the
    # candidates are read in batches, and only the changes are kept.
    groups: dict[tuple[str, str, str], list[Any]] = {}
    streamed = {"stream_results": True, "yield_per": BATCH}
    for tenant_id, user_id, entity_id, key in conn.exec_driver_sql(
        CANDIDATES, execution_options=streamed
    ):
        new = refolded(key)
        if new != key:
            groups.setdefault((tenant_id, user_id, new), []).append(entity_id)
    changes: dict[str, list[dict[str, Any]]] = {}
    for (tenant_id, user_id, new), entities in groups.items():
        where = {"tenant_id": tenant_id, "user_id": user_id, "dedup_key": new}
        if conn.exec_driver_sql(TAKEN, where).first() is None:
            change = {"tenant_id": tenant_id, "id": entities[0], "dedup_key": new}  # the oldest
            changes.setdefault(tenant_id, []).append(change)
    for tenant_id, rows in changes.items():
        conn.exec_driver_sql(BIND, {"tenant_id": tenant_id})
        for start in range(0, len(rows), BATCH):
            conn.exec_driver_sql(REKEY, rows[start : start + BATCH])
    if changes:
        conn.exec_driver_sql(BIND, {"tenant_id": ""})


def downgrade() -> None:
    pass  # the new keys stay (see the docstring)
