"""PostgreSQL values <-> JSON: result columns to JSON, JSON bind parameters to the types asyncpg wants."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import functools
import ipaddress
import itertools
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from servers._common import redact_text, to_jsonable
from servers._common.output import REDACTED


def pg_to_json(value: Any) -> Any:
    """Result values as JSON: numeric as exact strings, bytea as base64, ranges as objects."""
    if value is None or isinstance(value, bool | int | str | float):
        return to_jsonable(value)
    kind = type(value).__name__
    if kind == "Range":  # asyncpg.Range
        if value.isempty:
            return {"empty": True}
        return {
            "lower": pg_to_json(value.lower),
            "upper": pg_to_json(value.upper),
            "lower_inc": value.lower_inc,
            "upper_inc": value.upper_inc,
        }
    if kind == "Record":  # composite types
        return {k: pg_to_json(v) for k, v in value.items()}
    if kind == "BitString":
        return value.as_string()
    if isinstance(value, list | tuple):
        return [pg_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): pg_to_json(v) for k, v in value.items()}
    return to_jsonable(value)


def _iso_dt(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


_COERCE: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "timestamp": lambda s: _iso_dt(s).replace(tzinfo=None),
    "timestamptz": _iso_dt,
    "time": dt.time.fromisoformat,
    "uuid": uuid.UUID,
    "numeric": decimal.Decimal,
    "int2": int,
    "int4": int,
    "int8": int,
    "float4": float,
    "float8": float,
    "bool": lambda s: s.strip().lower() in ("true", "t", "1", "yes", "on"),
    "inet": ipaddress.ip_interface,
    "cidr": ipaddress.ip_network,
}


def coerce_param(value: Any, type_name: str) -> Any:
    """Convert one JSON bind parameter to what asyncpg expects for `type_name`."""
    if value is None:
        return None
    if type_name in ("json", "jsonb"):
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    if type_name.startswith("_") and isinstance(value, list):  # arrays: coerce each element
        return [coerce_param(v, type_name[1:]) for v in value]
    if type_name in ("numeric",) and isinstance(value, int | float):
        return decimal.Decimal(str(value))
    if type_name in ("float4", "float8") and isinstance(value, int):
        return float(value)
    if type_name == "bytea" and isinstance(value, str):
        return bytes.fromhex(value[2:]) if value.startswith("\\x") else value.encode()
    if type_name in ("text", "varchar", "bpchar", "name", "interval") and not isinstance(value, str):
        return str(value) if not isinstance(value, dict | list) else orjson.dumps(value).decode()
    conv = _COERCE.get(type_name)
    if conv is not None and isinstance(value, str):
        return conv(value)
    return value


_SECRET_WORDS = {"password", "passwd", "pwd", "secret", "token", "apikey", "credential", "credentials", "salt", "otp"}
_SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("session", "key")}
_WORDS = re.compile(r"[a-z0-9]+")


def is_secret_column(name: str) -> bool:
    """A column whose name says it holds a secret: password_hash, api_key, refresh_token, totp_secret ..."""
    words = _WORDS.findall(name.lower())
    return any(w in _SECRET_WORDS for w in words) or any(p in _SECRET_PAIRS for p in itertools.pairwise(words))


def _iso(value: Any) -> Any:
    return value.isoformat()


def _float(value: float) -> Any:
    return value if value == value and value not in (_INF, -_INF) else str(value)


def _bytes(value: bytes) -> dict[str, str]:
    return {"base64": base64.b64encode(value).decode()}


_INF = float("inf")
_IDENTITY = {"int2", "int4", "int8", "oid", "text", "varchar", "bpchar", "name", "bool", "json", "jsonb", "interval"}
"""Types asyncpg (with our codecs) already returns as JSON values: bool/int/str, json decoded by orjson."""


def via_orjson(column: list[Any]) -> list[Any]:
    """A whole column through orjson's own encoders (dates, UTC and naive timestamps: the same text as
    `isoformat()`, at C speed).

    Without nulls the encoded column is `["...","...",...]` of ISO texts (no quotes, commas or escapes in
    them), split apart in one pass instead of parsed back value by value.
    """
    text = orjson.dumps(column).decode()
    if column and "null" not in text:
        parts = text[2:-2].split('","')
        if len(parts) == len(column):
            return parts
    converted: list[Any] = orjson.loads(text)
    return converted


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "float4": _float,
    "float8": _float,
    "numeric": str,
    "money": str,
    "uuid": str,  # asyncpg's own UUID class, which orjson does not know
    "inet": str,
    "cidr": str,
    "date": via_orjson,
    "time": _iso,  # orjson 3.x drops a leading zero of the microseconds of a time (00:00:00.10000)
    "timetz": _iso,  # orjson refuses times with a zone
    "timestamp": via_orjson,
    "timestamptz": via_orjson,  # asyncpg returns them in UTC: no sub-minute offsets, which orjson would drop
    "bytea": _bytes,
}
_NO_SECRET_TEXT = _IDENTITY - {"text", "varchar", "bpchar", "name", "json", "jsonb"} | set(_CONVERTERS) - {"money"}
"""Types whose JSON form cannot hold a URL password, `password=` pair or bearer token: not scanned."""


def converter_for(typ: Any) -> Callable[[Any], Any] | None:
    """The JSON converter of one result column (an asyncpg `Type`), chosen once per column; None = as is."""
    if getattr(typ, "schema", "pg_catalog") == "pg_catalog" and getattr(typ, "kind", "scalar") == "scalar":
        if typ.name in _IDENTITY:
            return None
        conv = _CONVERTERS.get(typ.name)
        if conv is not None:
            return conv
    return pg_to_json


def _objects(names: Sequence[str], cols: list[Any], n: int) -> list[dict[str, Any]]:
    """Row objects filled column by column: a third of the time of `dict(zip(names, row))` per row."""
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, col in zip(names, cols, strict=True):
        for row, value in zip(rows, col, strict=True):
            row[name] = value
    return rows


def _suspect(text: str) -> bool:
    return "@" in text or "=" in text or "earer" in text


def _scanned(col: Any) -> Any:
    """A text column with secrets in its values redacted; a column of plain text (the rule: no `@`, `=` or
    `earer` in any value) is checked as one joined string and returned as it is."""
    try:
        joined = "\x00".join(col)
    except TypeError:  # not all str (nulls, decoded json)
        pass
    else:
        if not _suspect(joined):
            return col
    return [redact_text(v) if type(v) is str and _suspect(v) else v for v in col]


_Plan = tuple[tuple[str, ...], tuple[tuple[int, Callable[[Any], Any]], ...], tuple[int, ...], tuple[int, ...]]


def _plan(attributes: Sequence[Any], reveal: bool) -> _Plan:
    """`RowShaper`'s column plan: the names, the converter per column, the secret-named and the scanned ones."""
    names = tuple(a.name for a in attributes)
    convert = tuple((i, c) for i, a in enumerate(attributes) if (c := converter_for(a.type)) is not None)
    plain = {i for i, a in enumerate(attributes) if a.type.name in _NO_SECRET_TEXT and a.type.kind == "scalar"}
    secret = () if reveal else tuple(i for i, n in enumerate(names) if is_secret_column(n))
    scan = () if reveal else tuple(i for i in range(len(names)) if i not in plain and i not in secret)
    return names, convert, secret, scan


_cached_plan = functools.lru_cache(maxsize=512)(_plan)
"""The plan of a result shape seen before (the same statement, run again): made once, not per call."""


class RowShaper:
    """Result records to JSON rows: converters picked per column, secret columns masked, text scanned for secrets.

    Equivalent to `RowRedactor(...)({k: pg_to_json(v) ...})` per row, without per-value type dispatch.
    """

    def __init__(self, attributes: Sequence[Any], *, reveal: bool) -> None:
        # asyncpg's attributes are (hashable) named tuples
        self.names, self.convert, self.secret, self.scan = _cached_plan(tuple(attributes), reveal)
        self.masked: set[str] = set()

    def rows(self, records: Iterable[Any]) -> list[dict[str, Any]]:
        """Shape column by column (one pass of one converter over each column), then build the row objects."""
        records = list(records)
        if not self.names:
            return [{} for _ in records]
        cols: list[Any] = list(zip(*records, strict=False)) or [() for _ in self.names]
        for i, conv in self.convert:
            col = cols[i]
            if conv is via_orjson:
                cols[i] = via_orjson(list(col))
            else:
                # `is None` per value: `None in col` compares by ==, and Decimal.__eq__ runs ABC checks per value.
                has_null = any(map(operator.is_, col, itertools.repeat(None)))
                cols[i] = [None if v is None else conv(v) for v in col] if has_null else list(map(conv, col))
        for i in self.secret:
            col = cols[i]
            if any(isinstance(v, str | dict) and v != "" for v in col):
                cols[i] = [REDACTED if isinstance(v, str | dict) and v != "" else v for v in col]
                self.masked.add(self.names[i])
        for i in self.scan:
            cols[i] = _scanned(cols[i])
        return _objects(self.names, cols, len(records))

    def note(self) -> list[str]:
        if not self.masked:
            return []
        cols = ", ".join(sorted(self.masked))
        return [f"values of secret-named column(s) {cols} are redacted (BAM_PG_REVEAL_SECRETS=true shows them)"]


_SQL_PASSWORD = re.compile(
    r"(\bPASSWORD\s+)(''(?:[^']|'''')+''|'(?:[^']|'')*'|\$\w*\$.*?\$\w*\$|\S+)", re.IGNORECASE | re.DOTALL
)


def redact_sql(text: str) -> str:
    """SQL text (sessions, statement statistics) with `PASSWORD '...'` literals and URL passwords masked."""
    return redact_text(_SQL_PASSWORD.sub(lambda m: f"{m[1]}'{REDACTED}'", text))
