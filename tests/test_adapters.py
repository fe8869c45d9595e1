"""Values on the wire: id and token arrays arrive whole and typed as the statements expect;
JSON from the server reads back exactly, and anything else still gets the decoder's errors;
datetimes come back in UTC."""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from agentledger import Ledger
from agentledger.config import Settings
from agentledger.db.adapters import load_json, register_adapters
from agentledger.db.types import Bigints, Uuids


@pytest.fixture
def conn(app_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(app_url, autocommit=True) as conn:
        register_adapters(conn)
        yield conn


@pytest.mark.parametrize(
    "values", [[], [1], [1, 2, 3], [-(2**63), 0, 2**63 - 1], list(range(1, 2001))]
)
def test_integers_travel_as_bigint_whatever_their_size(
    conn: psycopg.Connection[tuple[object, ...]], values: list[int]
) -> None:
    row = conn.execute("SELECT %b::text, pg_typeof(%b)::text, %b", [Bigints(values)] * 3)
    text, type_name, back = row.fetchone() or ()
    assert type_name == "bigint[]"
    assert back == values
    assert text == "{" + ",".join(map(str, values)) + "}"


def test_uuids_travel_as_one_uuid_array(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    shared, other = uuid.uuid4(), uuid.uuid4()
    values = [shared, shared, other, shared]
    for sent in (values, []):
        row = conn.execute("SELECT pg_typeof(%b)::text, %b", [Uuids(sent)] * 2).fetchone()
        assert row == ("uuid[]", sent)


def test_a_bigint_out_of_range_is_refused_before_sending(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    for value in (2**63, -(2**63) - 1):
        with pytest.raises(struct.error):
            conn.execute("SELECT %b", [Bigints([value])])


@pytest.mark.parametrize(
    "value", [{"a": [1, 2.5, None, True]}, [], "text", 3, None, {"é": "ü"}, {"": {"": []}}]
)
@pytest.mark.parametrize("binary", [False, True])
def test_json_from_the_server_reads_back(
    conn: psycopg.Connection[tuple[object, ...]], value: object, binary: bool
) -> None:
    text = json.dumps(value)
    with conn.cursor(binary=binary) as cur:
        row = cur.execute("SELECT %s::jsonb, %s::json", [text, text]).fetchone()
    assert row == (value, value)


@pytest.mark.parametrize("text", [" {}", "{} ", "\n[1]\n"])
def test_json_with_surrounding_whitespace_still_reads(text: str) -> None:
    assert load_json(text) == json.loads(text)
    assert load_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "nope", "[1,]"])
def test_bad_json_raises_the_decoders_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        load_json(text)


def test_records_carry_utc_whatever_the_servers_zone(settings: Settings) -> None:
    """The library's sessions speak UTC: a server whose default zone is elsewhere still
    gives records UTC datetimes (the same instants)."""
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url, autocommit=True) as owner:
        name = sql.Identifier(owner.info.dbname)
        owner.execute(sql.SQL("ALTER DATABASE {} SET TimeZone = 'Asia/Kolkata'").format(name))
        try:
            with Ledger(settings, migrate=False) as ledger:
                ledger.tenants.create("zones", exist_ok=True)
                before = datetime.now(UTC)
                task = ledger.tenant("zones").tasks.enqueue("zones", {})
            with psycopg.connect(settings.database_url) as plain:  # asks for no zone
                row = plain.execute("SELECT now()").fetchone()
            assert row is not None and row[0].utcoffset() == timedelta(hours=5, minutes=30)
            assert task.created_at.tzinfo is UTC
            assert abs(task.created_at - before) < timedelta(minutes=5)
        finally:
            owner.execute(sql.SQL("ALTER DATABASE {} RESET TimeZone").format(name))
