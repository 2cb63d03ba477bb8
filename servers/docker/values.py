"""Conversions of engine data for output: time stamps, sizes, redaction of environments and text."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar

from servers._common import json_size, redact
from servers._common.output import redact_env

T = TypeVar("T")


def redact_inspect(data: Any) -> Any:
    """An inspect document with Config.Env masked, then every secret-looking key or text masked."""
    if isinstance(data, dict):
        cfg = data.get("Config")
        if isinstance(cfg, dict) and isinstance(cfg.get("Env"), list):
            data = {**data, "Config": {**cfg, "Env": redact_env(cfg["Env"])}}
        cc = data.get("ContainerConfig")
        if isinstance(cc, dict) and isinstance(cc.get("Env"), list):
            data = {**data, "ContainerConfig": {**cc, "Env": redact_env(cc["Env"])}}
    return redact(data)


def iso_from_epoch(ts: int | float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


def short_id(full: str | None) -> str:
    if not full:
        return ""
    return full.split(":", 1)[-1][:12]


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_since(value: str | None) -> dt.datetime | int | None:
    """`10m`, `2h`, `1d`, `30s` (relative), a Unix time in seconds, or an ISO 8601 time stamp."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    m = _DURATION.match(v)
    if m:
        mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=float(m.group(1)) * mult)
    if v.isdigit():
        return int(v)
    try:
        parsed = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"cannot read {value!r} as a time: use 10m, 2h, a Unix time or an ISO 8601 time stamp"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_size(value: str | int | None) -> int | None:
    """`512m`, `1g`, `100k` or a byte count."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?\s*$", value.lower())
    if not m:
        raise ValueError(f"cannot read {value!r} as a size: use e.g. 256m, 1g or a byte count")
    mult = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2)]
    return int(float(m.group(1)) * mult)


def raw_if_fits(data: dict[str, Any], full: bool, max_bytes: int) -> tuple[dict[str, Any] | None, bool]:
    """The whole (redacted) inspect document when `full` was asked for; (raw, truncated)."""
    if not full:
        return None, False
    if json_size(data) <= max_bytes:
        return data, False
    return None, True
