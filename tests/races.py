"""Run calls at the same moment, each on its own thread: the races tests stage."""

from __future__ import annotations

import threading
from collections.abc import Callable


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
