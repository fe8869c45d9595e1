"""HTTP ``filter.where``: a string compares as a date only when it is exactly YYYY-MM-DD;
every other string, ISO 8601's other spellings of a date included, as the string it is."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from agentledger.api.routes.memory import _typed


def _hits(reader: httpx.Client, where: list[Any]) -> list[str]:
    answer = reader.post(
        "/v1/memory/search",
        json={"query": "Order", "mode": "text", "filter": {"where": where}},
    )
    assert answer.status_code == 200, answer.text
    return [h["entity"]["name"] for h in answer.json()]


def test_strings_that_only_look_like_dates_compare_as_strings(
    writer: httpx.Client, reader: httpx.Client
) -> None:
    attrs = {"ref": "20240101", "week": "2024-W01-1", "day": "2024-01-05", "odd": "2024-02-30"}
    stored = writer.post(
        "/v1/memory/entities",
        json={"kind": "order", "name": "Order one", "key": "o1", "attrs": attrs},
    )
    assert stored.status_code in (200, 201), stored.text
    for name, value in attrs.items():
        assert _hits(reader, [[name, "=", value]]) == ["Order one"], name
    assert _hits(reader, [["ref", ">", "20231231"]]) == ["Order one"]  # as strings
    # A date compares as a date: with stored dates only.
    assert _hits(reader, [["day", ">", "2024-01-01"]]) == ["Order one"]
    assert _hits(reader, [["day", "<", "2024-01-01"]]) == []
    assert _hits(reader, [["ref", ">", "2023-01-01"]]) == []  # "20240101" is no date


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("2024-01-31", dt.date(2024, 1, 31)),
        ("20240131", "20240131"),
        ("2024-W05-3", "2024-W05-3"),
        ("2024-02-30", "2024-02-30"),
        ("2024-01-31T10:00:00", "2024-01-31T10:00:00"),
        ("٢٠٢٤-٠١-٣١", "٢٠٢٤-٠١-٣١"),  # other digits than ASCII ones
        (" 2024-01-31", " 2024-01-31"),
        (7, 7),
    ],
)
def test_only_yyyy_mm_dd_reads_as_a_date(given: object, read: object) -> None:
    assert _typed(given) == read
