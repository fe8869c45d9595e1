"""The pool hands out the idle connection returned last, on both faces: a lone caller keeps
one warm server process instead of cycling through every idle one."""

from __future__ import annotations

import asyncio

from agentledger import AsyncLedger, Ledger


def test_the_connection_returned_last_is_handed_out_first(sync_ledger: Ledger) -> None:
    pool = sync_ledger.db.pool
    first, second = pool.getconn(), pool.getconn()
    pool.putconn(first)
    pool.putconn(second)
    for _ in range(3):
        again = pool.getconn()
        pool.putconn(again)
        assert again is second
    with pool.connection() as conn:
        assert conn is second


def test_the_async_pool_hands_out_the_connection_returned_last_too(
    async_ledger: AsyncLedger, aio: asyncio.Runner
) -> None:
    pool = async_ledger.db.pool

    async def handed_out() -> list[bool]:
        first, second = await pool.getconn(), await pool.getconn()
        await pool.putconn(first)
        await pool.putconn(second)
        picks = []
        for _ in range(3):
            again = await pool.getconn()
            await pool.putconn(again)
            picks.append(again is second)
        return picks

    assert aio.run(handed_out()) == [True, True, True]
