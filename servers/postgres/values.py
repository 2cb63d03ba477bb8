"""PostgreSQL values <-> JSON: result columns to JSON, JSON bind parameters to the types asyncpg wants."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from servers._common import to_jsonable


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
