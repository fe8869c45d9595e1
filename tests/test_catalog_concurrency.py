"""Concurrent writers of one catalog document: real threads, each on its own connection."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from agentledger import Ledger, Settings, VersionConflict

WRITERS = 20
T = TypeVar("T")


@pytest.fixture(scope="module")
def wide_ledger(settings: Settings) -> Iterator[Ledger]:
    """A ledger whose pool holds a connection for every writer at once."""
    with Ledger(settings.with_(pool_min_size=WRITERS, pool_max_size=WRITERS), migrate=False) as led:
        yield led


def at_once(work: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``work(i)`` for every writer on its own thread, released together."""
    gate = threading.Barrier(WRITERS)
    results: list[T | BaseException] = [RuntimeError("not run")] * WRITERS

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def tenant(wide_ledger: Ledger) -> str:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    wide_ledger.tenants.create(tid)
    return tid


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_concurrent_writers_get_consecutive_versions(
    wide_ledger: Ledger, tenant: str, existing: bool
) -> None:
    catalog = wide_ledger.tenant(tenant).catalog
    base = 0
    if existing:
        base = catalog.create_version("playbook", "p", {"writer": "first"}).version
    results = at_once(
        lambda i: catalog.create_version("playbook", "p", {"writer": i}, created_by=f"w{i}")
    )
    versions = [r for r in results if not isinstance(r, BaseException)]
    assert len(versions) == WRITERS, [r for r in results if isinstance(r, BaseException)]
    assert sorted(v.version for v in versions) == list(range(base + 1, base + WRITERS + 1))
    for v in versions:  # each writer's content is stored under the number it was given
        assert catalog.get_version("playbook", "p", v.version).content == v.content
    stored = catalog.list_versions("playbook", "p", limit=100)
    assert [s.version for s in stored] == list(range(base + WRITERS, 0, -1))


def test_concurrent_global_writers_get_consecutive_versions(wide_ledger: Ledger) -> None:
    name = f"pack-{uuid.uuid4().hex[:8]}"
    platform = wide_ledger.platform_catalog
    results = at_once(lambda i: platform.create_version("domain_pack", name, {"writer": i}))
    assert sorted(r.version for r in results if not isinstance(r, BaseException)) == list(
        range(1, WRITERS + 1)
    )


def test_only_one_of_concurrent_conditional_writers_wins(wide_ledger: Ledger, tenant: str) -> None:
    catalog = wide_ledger.tenant(tenant).catalog
    catalog.create_version("policy_pack", "default", {"writer": "first"})
    results = at_once(
        lambda i: catalog.create_version(
            "policy_pack", "default", {"writer": i}, expected_version=1
        )
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert [w.version for w in won] == [2]
    assert len(lost) == WRITERS - 1 and all(isinstance(e, VersionConflict) for e in lost)
    assert catalog.get_latest("policy_pack", "default").content == won[0].content
