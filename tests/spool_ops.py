"""Operations the spool tests write with: idempotent thanks to a client-side id."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation

Q = Queries.beside(__file__, "spool_ops.sql")


@operation(idempotent=True, spoolable=True)
def insert_marker(id: uuid.UUID, name: str) -> Gen[str]:
    name = v.text("name", name, max_len=100)
    yield Q.insert_marker.none(id=id, name=name, hash=hashlib.sha256(id.bytes).digest())
    return name


@operation(writes=False)
def count_markers() -> Gen[dict[str, Any]]:
    row = yield Q.count_markers.one()
    return dict(row)
