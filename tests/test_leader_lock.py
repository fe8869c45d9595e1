"""Leader locks (``db.leader_lock``): one holder per name; a holder whose session is cut
learns it from ``held()`` and a standby takes over; an unreachable database is
Unavailable, not a lost election."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from agentledger import Ledger, Settings, Unavailable

# The sessions holding the named lock (the same key as the leader lock statements).
HOLDERS = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND classid = ((hashtextextended('agentledger.leader/' || %(name)s, 0) >> 32)
                 & 4294967295)::text::oid
  AND objid = (hashtextextended('agentledger.leader/' || %(name)s, 0) & 4294967295)::text::oid
"""


def _holders(url: str, name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(HOLDERS, {"name": name}).fetchall()]


def _cut(url: str, name: str) -> None:
    """Terminate the session holding the lock, as a network cut or a restart would."""
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in _holders(url, name):
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_one_holder_and_a_standby_takes_over_when_its_session_is_cut(
    ledger: Ledger, database_url: str
) -> None:
    name = f"test/{uuid.uuid4().hex[:8]}"
    with ledger.db.leader_lock(name) as first, ledger.db.leader_lock(name) as second:
        assert first.acquire() is True
        assert first.acquire() is True  # again: still this session's
        assert second.acquire() is False and second.held() is False
        assert first.held() is True and len(_holders(database_url, name)) == 1

        _cut(database_url, name)
        assert first.held() is False  # the holder learns it before its next piece of work
        assert second.acquire() is True and second.held() is True
        assert first.acquire() is False  # a fresh session, and the lock is taken

        second.release()
        assert _holders(database_url, name) == []
        assert first.acquire() is True
    assert _holders(database_url, name) == []  # leaving the block releases it


def test_an_unreachable_database_is_unavailable(settings: Settings, tmp_path: Path) -> None:
    with psycopg.connect(str(settings.database_url)) as conn:
        port = conn.info.port
    down = settings.model_copy(  # a process that opens with its spool while nothing answers
        update={
            "database_url": str(settings.database_url).replace(f":{port}/", ":1/"),
            "spool_dir": tmp_path,
            "connect_timeout": 1,
            "pool_timeout": 0.5,
            "retry_attempts": 1,
        }
    )
    with Ledger(down, migrate=False) as ledger, ledger.db.leader_lock("test/down") as lock:
        with pytest.raises(Unavailable):
            lock.acquire()
        assert lock.held() is False
