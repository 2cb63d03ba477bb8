"""Row shaping: per-column converters give exactly what per-value conversion gave (generated values)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers._common import redact_text
from servers._common.output import REDACTED
from servers.postgres.values import RowShaper, _scanned, is_secret_column, pg_to_json, via_orjson

UTC = dt.UTC


@given(st.lists(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))))
def test_timestamptz_columns_match_isoformat(values: list[dt.datetime | None]) -> None:
    assert via_orjson(values) == [None if v is None else v.isoformat() for v in values]


@given(st.lists(st.one_of(st.none(), st.datetimes(), st.dates())))
def test_timestamp_and_date_columns_match_isoformat(values: list[Any]) -> None:
    assert via_orjson(values) == [None if v is None else v.isoformat() for v in values]


def _attr(name: str, typ: str) -> Any:
    """A column as asyncpg describes one (its own named tuples)."""
    from asyncpg.types import Attribute, Type

    return Attribute(name, Type(0, typ, "scalar", "pg_catalog"))


def _reference(row: tuple[Any, ...], names: list[str]) -> dict[str, Any]:
    """Wave 1's shaping of one row: pg_to_json per value, then masking (kept as the oracle)."""
    out = {k: pg_to_json(v) for k, v in zip(names, row, strict=True)}
    for k, v in out.items():
        if is_secret_column(k) and isinstance(v, str | dict) and v not in ("", None):
            out[k] = REDACTED
        elif isinstance(v, str) and ("@" in v or "=" in v or "earer" in v):
            out[k] = redact_text(v)
    return out


TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["postgresql://u:s3cret@db/app", "password=hunter2", "Bearer abc.def", "a@b.c", ""]),
)
COLUMNS = [
    ("id", "int8", st.integers(-(2**63), 2**63 - 1)),
    ("note", "text", TEXT),
    ("api_key", "text", TEXT),
    ("amount", "numeric", st.decimals(allow_nan=False, places=4)),
    ("ratio", "float8", st.floats()),
    ("flag", "bool", st.booleans()),
    ("at", "timestamptz", st.datetimes(timezones=st.just(UTC))),
    ("day", "date", st.dates()),
    ("clock", "time", st.times()),
    ("blob", "bytea", st.binary(max_size=8)),
]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_row_shaper_equals_per_value_conversion(data: st.DataObject) -> None:
    cols = data.draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6, unique_by=lambda c: c[0]))
    rows = data.draw(st.lists(st.tuples(*[st.one_of(st.none(), c[2]) for c in cols]), max_size=8))
    names = [c[0] for c in cols]
    shaper = RowShaper([_attr(n, t) for n, t, _ in cols], reveal=False)
    got = shaper.rows(rows)
    want = [_reference(r, names) for r in rows]
    assert got == want
    secret_masked = {n for n in names if is_secret_column(n) and any(w[n] == REDACTED for w in want)}
    assert secret_masked <= shaper.masked


def test_numeric_stays_exact_and_reveal_shows_secrets() -> None:
    shaper = RowShaper([_attr("n", "numeric"), _attr("password", "text")], reveal=True)
    assert shaper.rows([(decimal.Decimal("12345678901234567890.123456789"), "x")]) == [
        {"n": "12345678901234567890.123456789", "password": "x"}
    ]
    assert shaper.note() == []


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab=@:rBe /x", max_size=12))))
def test_a_text_column_is_redacted_as_value_by_value(values: list[str | None]) -> None:
    """The joined-string shortcut of a plain column changes nothing: the same as redacting each value."""
    expected = [redact_text(v) if isinstance(v, str) and ("@" in v or "=" in v or "earer" in v) else v for v in values]
    assert list(_scanned(values)) == expected
