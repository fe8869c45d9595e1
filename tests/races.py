"""Run calls at the same moment, each on its own thread: the races tests stage."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from agentledger import Ledger, Settings

Faces = tuple[Any, Any]


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Each call's result, or the exception it raised, in the order given; the calls start
    together (a barrier releases their threads at once)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = calls[i]()
        except Exception as exc:  # the outcome the test inspects
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@contextmanager
def rivals(settings: Settings, ledger: Ledger, tenant: str, module: str) -> Iterator[Faces]:
    """``module``'s façade for ``tenant`` on ``ledger`` and on a second ledger of its own
    pool: two callers that never share a connection."""
    with Ledger(settings, migrate=False) as second:
        yield getattr(ledger.tenant(tenant), module), getattr(second.tenant(tenant), module)


def both(faces: Faces, method: str, *args: Any, **kwargs: Any) -> list[object]:
    """``method(*args, **kwargs)`` called on both faces at once (see :func:`at_once`)."""
    return at_once(*(partial(getattr(face, method), *args, **kwargs) for face in faces))
