"""The pool after a long outage: served again as soon as the network returns.

While the server is unreachable, psycopg_pool retries its connection attempts with a
doubling delay; left at its defaults, a 5-second outage leaves the next attempt some
2 seconds after the network's return, and every request until then fails (a 30-second
outage: some 30 seconds)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import pytest
from chaos.tcp_proxy import TcpProxy

from agentledger import Ledger, Settings, Unavailable


def test_the_first_call_after_a_long_outage_is_served(settings: Settings) -> None:
    url = str(settings.database_url)
    port = urlsplit(url).port
    assert port is not None
    with TcpProxy("127.0.0.1", port) as proxy:
        cut_off = settings.with_(
            database_url=proxy.through(url), pool_timeout=0.5, retry_attempts=2
        )
        with Ledger(cut_off, migrate=False) as ledger:
            tid = f"p-{uuid.uuid4().hex[:8]}"
            ledger.tenants.create(tid)
            events = ledger.tenant(tid).events
            events.append("s", "Before", {})
            proxy.stop()
            failed = 0
            outage_ends = time.monotonic() + 5
            while time.monotonic() < outage_ends:
                with pytest.raises(Unavailable):
                    events.append("s", "During", {})
                failed += 1
            proxy.start()
            events.append("s", "After", {})  # the first call once the network is back
            assert failed >= 2
            assert [e.type for e in events.read_stream("s")] == ["Before", "After"]
