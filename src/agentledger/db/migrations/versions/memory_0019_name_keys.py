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
another entity already holds is left alone too. The downgrade keeps the new keys (the
folding cannot be undone): the earlier code then misses an entity re-keyed here when a
name's old folding differs from its new one, as it missed the other forms before.

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
# Fresh figures first: a table loaded in bulk and never analyzed would have the look-ups
# below planned on the wrong index (a scan of the user's entities for each key).
ANALYZE = "ANALYZE agentledger.memory_entities (tenant_id, user_id, dedup_key)"
# Each tenant's rows are changed bound to that tenant, so that an owner that is not a
# superuser passes the tenant policy.
BIND = "SELECT set_config('agentledger.tenant_id', %(tenant_id)s, true)"
# A batch of one tenant's new keys; a key another entity of the user holds stays with it.
REKEY = """
UPDATE agentledger.memory_entities e SET dedup_key = c.dedup_key
FROM unnest(%(ids)s::uuid[], %(keys)s::text[]) AS c(id, dedup_key)
WHERE e.tenant_id = %(tenant_id)s AND e.id = c.id
  AND NOT EXISTS (
    SELECT 1 FROM agentledger.memory_entities o
    WHERE o.tenant_id = e.tenant_id AND o.user_id = e.user_id AND o.dedup_key = c.dedup_key)
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
    conn.exec_driver_sql(ANALYZE)
    # The oldest candidate of each (tenant, user, new key) whose key changes, by tenant;
    # the candidates are read in batches, and only the changes are kept.
    changes: dict[str, dict[tuple[str, str], Any]] = {}
    streamed = {"stream_results": True, "yield_per": BATCH}
    for tenant_id, user_id, entity_id, key in conn.exec_driver_sql(
        CANDIDATES, execution_options=streamed
    ):
        new = refolded(key)
        if new != key:
            changes.setdefault(tenant_id, {}).setdefault((user_id, new), entity_id)
    for tenant_id, tenant_changes in changes.items():
        conn.exec_driver_sql(BIND, {"tenant_id": tenant_id})
        listed = [(entity_id, new) for (_, new), entity_id in tenant_changes.items()]
        for start in range(0, len(listed), BATCH):
            batch = listed[start : start + BATCH]
            conn.exec_driver_sql(
                REKEY,
                {
                    "tenant_id": tenant_id,
                    "ids": [entity_id for entity_id, _ in batch],
                    "keys": [new for _, new in batch],
                },
            )
    if changes:
        conn.exec_driver_sql(BIND, {"tenant_id": ""})


def downgrade() -> None:
    pass  # the new keys stay (see the docstring)
