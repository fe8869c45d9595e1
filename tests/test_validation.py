"""Input PostgreSQL would reject is refused up front with the field named (no database)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from agentledger import InvalidInput, Settings, validation as v, vectors
from agentledger.errors import ConfigError, IllegalTransition
from agentledger.lifecycle import Lifecycle


@pytest.mark.parametrize(
    ("value", "needle"),
    [("a\x00b", "NUL"), ("x" * 11, "limit is 10"), ("", "must not be empty"), (3, "string")],
)
def test_text_refusals_name_the_field(value: object, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle) as info:
        v.text("title", value, max_len=10)
    assert info.value.field == "title"


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidInput, match="UTF-8"):
        v.text("name", "bad \udc80")


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"a": "x\x00"}, "NUL"),
        (
            {"a": ["ok", "half \ud800 a pair"]},
            r"attrs\.a\[1\] contains a lone surrogate \(\\ud800\)",
        ),
        ({"a": [1, math.nan]}, "non-finite"),
        ({"a": {1, 2}}, "not a JSON type"),
        ({1: "x"}, "non-string key"),
        ([1], "JSON object"),
    ],
)
def test_json_refusals_name_the_path(value: object, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        v.json_object("attrs", value)


@pytest.mark.parametrize("key", ["half \udc80", "nul \x00"])
def test_a_key_that_is_not_storable_text_is_named_printably(key: str) -> None:
    # The message names the key by its repr: it must itself survive UTF-8 and the database.
    with pytest.raises(InvalidInput) as info:
        v.json_object("attrs", {"ok": {key: 1}})
    assert info.value.field == "attrs.ok" and repr(key) in str(info.value)
    str(info.value).encode("utf-8")
    assert "\x00" not in str(info.value)


def test_characters_past_the_basic_plane_are_text() -> None:
    value = {"emoji \U0001f600": ["\U0001f600", "\ud7ff \ue000 \uffff"]}
    assert v._plain_json_bound(value, 0) is not None
    assert v.json_object("attrs", value) == value


def test_numbers_past_what_readers_hold_are_refused_by_name() -> None:
    # Python converts at most 4,300 digits between text and int: a reader of a stored
    # 5,000-digit integer could not load it, nor could the encoder write it.
    assert v.json_object("attrs", {"n": 10**3999}) == {"n": 10**3999}
    with pytest.raises(InvalidInput, match="more than 4,000 digits") as info:
        v.json_object("attrs", {"a": [1, -(10**5000)]})
    assert info.value.field == "attrs.a[1]"
    with pytest.raises(InvalidInput, match="beyond a double") as big:
        v.number("score", 10**400)
    assert big.value.field == "score"
    with pytest.raises(InvalidInput, match="integer of 16610 bits"):
        v.integer("after", 10**5000)


@pytest.mark.parametrize("value", [1e39, -1e39, 1e-50, -(10**39)])
def test_a_real_column_holds_single_precision(value: float) -> None:
    with pytest.raises(InvalidInput, match="single precision") as info:
        v.number("weight", value, single=True)
    assert info.value.field == "weight"


def test_a_real_column_takes_zero_and_the_smallest_magnitudes() -> None:
    for value in (0, 0.0, 1.5e-45, 3.4e38, -2.5):
        assert v.number("weight", value, single=True) == float(value)


@pytest.mark.parametrize("value", ["false", 0, None, "yes"])
def test_a_flag_is_true_or_false_only(value: object) -> None:
    # bool("false") is True: a flag given as text is refused, not read.
    with pytest.raises(InvalidInput, match="true or false") as info:
        v.flag("all_versions", value)
    assert info.value.field == "all_versions"


def test_oversized_json_is_refused() -> None:
    with pytest.raises(InvalidInput, match="limit is 100"):
        v.json_object("attrs", {"k": "x" * 200}, max_bytes=100)


JSON_SHAPES = [
    {},
    {"a": 1, "b": [1, 2.5, -1e308, 2.2250738585072014e-308, None, True]},
    {"quote": '"\\', "ctl": "\x01\x1f", "bmp": "é€", "astral": "😀" * 3, "big": 2**200},
    {"deep": [[[[{"k": [-(2**63), 10**30]}]]]], "t": ("x", "y")},
    {"k" * 50: "v" * 500, "nested": {"a": {"b": {"c": "d"}}}},
]


@pytest.mark.parametrize("value", JSON_SHAPES)
def test_json_size_limit_is_exact_at_its_edge(value: dict[str, object]) -> None:
    # The quick path skips encoding only when the value surely fits; at the edge the
    # limit is the encoded size to the byte either way.
    import json

    size = len(json.dumps(value, allow_nan=False).encode())
    assert v._plain_json_bound(value, 0) is not None
    assert v._plain_json_bound(value, 0) >= size  # type: ignore[operator]
    assert v.json_object("attrs", value, max_bytes=size) == value
    with pytest.raises(InvalidInput, match=f"{size} bytes of JSON; the limit is {size - 1}"):
        v.json_object("attrs", value, max_bytes=size - 1)


def test_json_quick_path_leaves_doubtful_values_to_the_careful_walk() -> None:
    from types import MappingProxyType

    assert v._plain_json_bound({"a": MappingProxyType({"b": 1})}, 0) is None
    with pytest.raises(InvalidInput, match="not JSON-serialisable"):
        v.json_object("attrs", {"a": MappingProxyType({"b": 1})})
    deep: object = "leaf"
    for _ in range(70):
        deep = [deep]
    with pytest.raises(InvalidInput, match="deeper than 64"):
        v.json_object("attrs", {"a": deep})


def test_integers_and_choices() -> None:
    with pytest.raises(InvalidInput, match="between"):
        v.integer("limit", 0, low=1, high=10)
    with pytest.raises(InvalidInput, match="integer"):
        v.integer("limit", True)
    with pytest.raises(InvalidInput, match="expected one of"):
        v.choice("tier", "urgent", ["1", "2"])
    with pytest.raises(InvalidInput, match="UUID"):
        v.uuid("id", "nope")
    with pytest.raises(InvalidInput, match="expected one of"):
        v.choice("tier", ["1"], ["1", "2"])  # unhashable: none of them


@pytest.mark.parametrize("value", ["ab", b"ab", {"a": 1}, 5, None])
def test_items_refuse_what_is_not_a_list(value: object) -> None:
    with pytest.raises(InvalidInput, match="ids must be a list of entity ids") as info:
        v.items("ids", value, what="entity ids")
    assert info.value.field == "ids"


def test_items_take_any_iterable_within_the_limit() -> None:
    assert v.items("ids", (i for i in range(3)), what="ids") == [0, 1, 2]
    assert v.items("ids", {"a"}, what="ids", max_items=1) == ["a"]
    with pytest.raises(InvalidInput, match="ids has 2 items; the limit is 1"):
        v.items("ids", [1, 2], what="ids", max_items=1)


def test_aware_datetimes() -> None:
    now = dt.datetime.now(dt.UTC)
    assert v.aware_datetime("since", None) is None
    assert v.aware_datetime("since", now) == now
    with pytest.raises(InvalidInput, match="timezone-aware") as info:
        v.aware_datetime("tasks[2].run_after", now.replace(tzinfo=None))
    assert info.value.field == "tasks[2].run_after"
    with pytest.raises(InvalidInput, match="timezone-aware"):
        v.aware_datetime("since", now.date())
    later = now + dt.timedelta(hours=1)
    assert v.aware_datetime("run_after", later) == later  # the future is fine by default
    with pytest.raises(InvalidInput, match="in the future") as info:
        v.aware_datetime("at", later, not_future=True)
    assert info.value.field == "at"
    # Beyond years 1-9999 once in UTC: PostgreSQL would keep a date psycopg cannot read.
    for edge in (
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-14))),
    ):
        with pytest.raises(InvalidInput, match="outside years 1-9999") as info:
            v.aware_datetime("started_at", edge)
        assert info.value.field == "started_at"


def test_bad_setting_names_the_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"pool_max_size .*AGENTLEDGER_POOL_MAX_SIZE.*0"):
        Settings.build(pool_max_size=0)
    with pytest.raises(ConfigError, match="database_url"):
        Settings.build(database_url="mysql://x")
    with pytest.raises(ConfigError) as refused:  # a password is not repeated
        Settings.build(app_url="mysql://app:s3cret@db:5432/x")
    assert "s3cret" not in str(refused.value) and "app:***@db" in str(refused.value)


def test_a_session_url_goes_with_a_transaction_pooler() -> None:
    url = "postgresql://app@db:5432/x"
    assert Settings.build(pooler="transaction", session_url=url).session_url == url
    with pytest.raises(ConfigError, match="only with pooler=transaction") as refused:
        Settings.build(session_url=url)
    assert refused.value.field == "session_url"


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTLEDGER_POOL_MAX_SIZE", "3")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    settings = Settings.from_env()
    assert (settings.pool_max_size, settings.database_url) == (3, "postgresql://u@h/db")
    monkeypatch.setenv("AGENTLEDGER_STATEMENT_TIMEOUT_MS", "soon")
    with pytest.raises(ConfigError, match="STATEMENT_TIMEOUT_MS"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"pool_min_size": 5, "pool_max_size": 2}, "pool_max_size"),
        ({"pool_timeout": float("inf")}, "pool_timeout"),
        ({"retry_backoff": float("nan")}, "retry_backoff"),
        ({"statement_timeout_ms": 2**31}, "statement_timeout_ms"),  # past PostgreSQL's int
        ({"idle_in_transaction_timeout_ms": 2**31}, "idle_in_transaction_timeout_ms"),
        ({"data_dir": __file__}, "data_dir"),  # a file, not a directory
        ({"spool_dir": __file__}, "spool_dir"),
    ],
)
def test_settings_a_ledger_could_not_open_with_are_refused_when_built(
    values: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.build(**values)
    assert refused.value.field == field


def test_replay_modules_from_the_environment_are_a_comma_or_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for raw, expected in (("myapp., other.", ("myapp.", "other.")), ('["myapp."]', ("myapp.",))):
        monkeypatch.setenv("AGENTLEDGER_SPOOL_REPLAY_MODULES", raw)
        assert Settings.from_env().spool_replay_modules == expected
    for bad in ("[bad", "myapp"):  # not JSON; not a module prefix
        monkeypatch.setenv("AGENTLEDGER_SPOOL_REPLAY_MODULES", bad)
        with pytest.raises(ConfigError) as refused:
            Settings.from_env()
        assert refused.value.field == "spool_replay_modules"


def test_lifecycle_table_drives_checks() -> None:
    life = Lifecycle(
        "alert", {"pending": {"ack": "acked"}, "acked": {"resolve": "done"}, "done": {}}
    )
    assert life.sources("ack") == ["pending"]
    assert life.check("ack", "pending") == "acked"
    with pytest.raises(IllegalTransition, match="cannot resolve alert in state 'pending'"):
        life.check("resolve", "pending")
    with pytest.raises(InvalidInput, match="not a alert action"):
        life.check("fly", "pending")
    with pytest.raises(ValueError, match="unknown state"):
        Lifecycle("x", {"a": {"go": "b"}})


def test_lifecycle_move_says_why_nothing_moved() -> None:
    """One helper drives every ``transition`` op: the guarded UPDATE, then a read on a miss."""
    from agentledger.alerts import ops as alerts
    from agentledger.db.statements import run_offline
    from agentledger.errors import Conflict, NotFound

    aid = "00000000-0000-4000-8000-000000000001"
    moved, sent = run_offline(alerts.transition(aid, "resolve"), [_alert_row("resolved")])
    assert moved.status == "resolved" and [s.query.name for s in sent] == ["transition_alert"]
    with pytest.raises(NotFound, match=f"alert {aid} does not exist") as missing:
        run_offline(alerts.transition(aid, "resolve"), [None, None])
    assert missing.value.field == "alert_id"
    with pytest.raises(IllegalTransition, match="cannot acknowledge alert in state 'resolved'"):
        run_offline(alerts.transition(aid, "acknowledge"), [None, {"status": "resolved"}])
    # The row reached a state the move is legal in after the UPDATE looked (a race).
    with pytest.raises(Conflict, match="changed state concurrently") as raced:
        run_offline(alerts.transition(aid, "resolve"), [None, {"status": "pending"}])
    assert not isinstance(raced.value, IllegalTransition)


def _alert_row(status: str) -> dict[str, object]:
    """A row with every column of an alert (only the status matters here)."""
    import dataclasses

    from agentledger.alerts import Alert

    return {**{f.name: None for f in dataclasses.fields(Alert)}, "status": status}


def test_operations_run_offline_on_canned_rows() -> None:
    """An operation's logic is testable without a server: feed it rows, see its statements."""
    from agentledger.db.statements import run_offline
    from agentledger.tenants import ops

    # The guarded UPDATE matched nothing; the follow-up read finds the tenant archived.
    with pytest.raises(IllegalTransition, match="cannot suspend tenant in state 'archived'"):
        run_offline(ops.transition("acme", "suspend"), [None, {"status": "archived"}])
    _, sent = run_offline(ops.list_(limit=5), [[]])
    assert [s.query.name for s in sent] == ["list_tenants"]
    assert sent[0].params == {"status": None, "after": "", "limit": 5}


VECTORS = [
    [0.25, -1.5, 3.0],
    [3.4e38, -3.4e38, 1.0],  # the edge of single precision
    [1e-40, 0.0, -0.0],  # a subnormal single
    [-0.0, 2.0],
    [0.1] * 384,
]


@pytest.fixture(params=["without numpy", "with numpy"])
def numpy_loaded(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Vectors are checked by numpy once it is imported, by Python before: both must agree."""
    import sys

    if request.param == "with numpy":
        import numpy  # noqa: F401

        return True
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    return False


@pytest.mark.usefixtures("numpy_loaded")
@pytest.mark.parametrize("value", VECTORS)
def test_plain_float_vectors_pack_as_the_careful_path_does(
    value: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = vectors._plain_vector(value)
    assert quick is not None
    monkeypatch.setattr(vectors, "_plain_vector", lambda _: None)
    assert quick == vectors.vector("embedding", value)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ([1.0, 3.5e38], "beyond single precision"),
        ([1e-50, 1e-50], "zero vector"),
        ([0.0, -0.0], "zero vector"),
        ([1.0, math.nan], "finite numbers only"),
        ([1.0, math.inf], "finite numbers only"),
        ([1e308, 1e308], "beyond single precision"),  # a sum that overflows
        ([True, 1.0], "not booleans"),
        ([1.0, "2"], "numbers only"),
    ],
)
@pytest.mark.usefixtures("numpy_loaded")
def test_vector_refusals_on_the_quick_path_name_the_problem(
    value: list[object], needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle) as info:
        vectors.vector("embedding", value)
    assert info.value.field == "embedding"
