"""Search reads the segments' GIN indexes (inside the definer functions, which RLS cannot
keep from them); oversized content is refused before any write."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from bench.plans import traced_plans

from agentledger import InvalidInput, Ledger
from agentledger.db.migrations.helpers import DEFAULT_APP_ROLE
from agentledger.sessions import MAX_CONTENT_CHARS
from agentledger.sessions.content import Q


def plan(owner_url: str, tenant: str, statement: str, params: dict[str, Any]) -> str:
    """The plans of a search statement's nested queries, run as the app role with the
    tenant bound (the functions set their own planner options)."""
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('agentledger.tenant_id', %s, true)", [tenant])
        return traced_plans(conn, statement, params, role=DEFAULT_APP_ROLE)


def test_chunk_and_artifact_search_use_the_segment_indexes(
    sync_ledger: Ledger, database_url: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    sessions = sync_ledger.tenant(tenant).sessions
    sid = sessions.create("indexed").id
    for i in range(100):
        sessions.add_chunk(sid, f"filler words number {i} about nothing much")
        if i % 10 == 0:
            sessions.save_artifact(sid, f"doc{i}", f"body {i} words", artifact_type="document")
    with psycopg.connect(database_url, autocommit=True) as owner:
        for table in ("chunks", "chunk_segments", "artifacts", "artifact_segments"):
            owner.execute(f"VACUUM ANALYZE agentledger.session_{table}")
    chunks = plan(
        database_url,
        tenant,
        Q.search_chunks.sql,
        {"query": "obsidian", "session_id": None, "format": None, "limit": 20},
    )
    assert "session_chunk_segments_tsv" in chunks, chunks
    artifacts = plan(
        database_url,
        tenant,
        Q.search_artifacts.sql,
        {
            "query": "body",
            "session_id": None,
            "artifact_type": None,
            "all_versions": False,
            "limit": 20,
        },
    )
    assert "session_artifact_segments_tsv" in artifacts, artifacts


def test_content_over_the_limit_is_refused(sync_ledger: Ledger) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    sessions = sync_ledger.tenant(tenant).sessions
    sid = sessions.create("limits").id
    huge = "x" * (MAX_CONTENT_CHARS + 1)
    with pytest.raises(InvalidInput, match="limit") as info:
        sessions.add_chunk(sid, huge)
    assert info.value.field == "content"
    with pytest.raises(InvalidInput) as art:
        sessions.save_artifact(sid, "big", huge, artifact_type="report")
    assert art.value.field == "content"
    assert sessions.get(sid).chunk_count == 0
