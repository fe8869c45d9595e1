"""A statement larger than the socket's buffers, whose result an operation reads before its
next statement, comes back, on both faces. (``memory.upsert_many`` of 4,500 entities with
384-dimension vectors was such a statement, and hung.)"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from agentledger import AsyncLedger, Ledger
from agentledger.db.binding import Binding
from agentledger.db.statements import Gen, Query, operation

LENGTH = Query("text_length", "SELECT length(%(text)s::text) AS n")
# Past any socket buffer of a test machine, client and server together.
BIG = "x" * (64 * 1024 * 1024)
WAIT = 120.0  # seconds: a hang fails the test instead of stopping the suite


@operation(writes=False)
def _lengths(text: str) -> Gen[tuple[int, int]]:
    whole: int = yield LENGTH.scalar(text=text)  # read mid-transaction: a Sync of its own
    half: int = yield LENGTH.scalar(text=text[: len(text) // 2])
    return whole, half


def _in_thread(call: Any) -> Any:
    """``call()``'s result, or a failure when it does not return within WAIT seconds."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive(), f"no answer within {WAIT:.0f} s"
    return out[0]


def test_a_statement_larger_than_the_socket_buffers_is_answered(
    sync_ledger: Ledger, async_ledger: AsyncLedger, aio: asyncio.Runner
) -> None:
    binding = Binding.platform()
    assert sync_ledger._db is not None and async_ledger._db is not None
    sync_db, async_db = sync_ledger._db, async_ledger._db
    expected = (len(BIG), len(BIG) // 2)
    assert _in_thread(lambda: sync_db.run(_lengths(BIG), binding)) == expected
    coroutine = asyncio.wait_for(async_db.run(_lengths(BIG), binding), WAIT)
    assert aio.run(coroutine) == expected
