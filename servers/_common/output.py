"""Output helpers: JSON conversion of driver values, size caps, and secret redaction."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

T = TypeVar("T")

REDACTED = "***REDACTED***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth|"
    r"session[_-]?key|signature|cookie|dsn|connection[_-]?string|salt)",
    re.IGNORECASE,
)
_NOT_SECRET_KEY = re.compile(r"^(author|authors|authority|token_type|.*_count|.*_length|auth_type|keyspace)$", re.I)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_INLINE_SECRET = re.compile(
    r"(?P<k>\b(?:[\w.-]*[_.-])?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key)\b\s*[=:]\s*)"
    r"(?P<q>['\"]?)(?P<v>[^\s'\",;&]+)",
    re.IGNORECASE,
)
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """Whether a mapping key or variable name looks like it holds a secret."""
    return bool(_SECRET_KEY.search(key)) and not _NOT_SECRET_KEY.match(key)


def redact_text(text: str) -> str:
    """Mask passwords in URLs, `password=...` pairs and bearer tokens inside free text."""
    if "=" not in text and ":" not in text and "bearer" not in text.lower():
        return text  # none of the three can match (a URL and a pair need `:` or `=`): no regex pass
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _INLINE_SECRET.sub(lambda m: f"{m['k']}{m['q']}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m[1]}{REDACTED}", text)


def redact(value: Any, *, aggressive: bool = False, keep: frozenset[str] = frozenset()) -> Any:
    """Recursively mask values under secret-looking keys and secrets inside strings.

    `aggressive` also masks 40-character base64 runs (AWS secret access keys) in free text; keys in `keep`
    (e.g. pagination tokens) are passed through untouched.
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            if key in keep:
                out[key] = v
            elif is_secret_key(key) and isinstance(v, str | bytes | int | float) and v not in ("", None):
                out[key] = REDACTED
            else:
                out[key] = redact(v, aggressive=aggressive, keep=keep)
        return out
    if isinstance(value, list | tuple):
        return [redact(v, aggressive=aggressive, keep=keep) for v in value]
    if isinstance(value, str):
        text = redact_text(value)
        return _AWS_SECRET.sub(REDACTED, text) if aggressive else text
    return value


_TOKEN_PREFIX = re.compile(
    r"^(AKIA|ASIA)[A-Z0-9]{12,}$|^(ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr]|sk|sk_live|rk_live|npm)[-_][A-Za-z0-9_\-]{16,}"
    r"|^eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\."
)
_HIGH_ENTROPY = re.compile(r"^[A-Za-z0-9+/=_\-]{32,}$")


def looks_secret_value(value: str) -> bool:
    """A value that is a known token format, or a long mixed-case-and-digit random-looking string."""
    v = value.strip()
    if _TOKEN_PREFIX.search(v):
        return True
    if _HIGH_ENTROPY.match(v):
        return any(c.isdigit() for c in v) and any(c.isupper() for c in v) and any(c.islower() for c in v)
    return False


_ASSIGN = re.compile(
    r"(?P<k>\b[A-Za-z_][A-Za-z0-9_.\-]*)(?P<sep>['\"]?\s*[=:]\s*)"
    r"(?:(?P<q>['\"])(?P<qv>[^'\"\n]*)(?P=q)|(?P<oq>['\"]?)(?P<v>[^\s'\",;&]+))"
)


def redact_output(text: str) -> str:
    """Free text (logs, command output, event messages) with `NAME=value` secrets and known token formats masked.

    Also JSON-style `"name": "value"` pairs, quoted values whole.
    """

    def sub(m: re.Match[str]) -> str:
        q = m["q"] or ""
        value = m["qv"] if q else m["v"]
        if value and (is_secret_key(m["k"]) or looks_secret_value(value)):
            return f"{m['k']}{m['sep']}{q or m['oq'] or ''}{REDACTED}{q}"
        return m.group(0)

    text = _ASSIGN.sub(sub, text)
    text = redact_text(text)
    return _TOKEN_ANYWHERE.sub(REDACTED, text)


_TOKEN_ANYWHERE = re.compile(
    r"\b(?:(?:AKIA|ASIA)[A-Z0-9]{16}|(?:ghp|gho|ghs|ghu)_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}|xox[abpr]-[A-Za-z0-9\-]{10,}|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]+)"
)


def secret_pair(name: str, value: Any) -> bool:
    """The one rule for name/value pairs (env vars, parameters, tags): mask a value whose name or value looks secret.

    Only non-empty text is masked: numbers and booleans never are.
    """
    return isinstance(value, str) and bool(value) and (is_secret_key(name) or looks_secret_value(value))


def redact_env(env: Iterable[str] | None) -> list[str]:
    """`NAME=value` entries with secret-looking names or values masked, and URL passwords masked."""
    out: list[str] = []
    for item in env or []:
        name, sep, val = item.partition("=")
        if sep and secret_pair(name, val):
            out.append(f"{name}={REDACTED}")
        else:
            out.append(redact_text(item))
    return out


def to_jsonable(value: Any) -> Any:
    """Convert driver values to JSON-friendly ones: exact numerics as strings, times in ISO 8601."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def _iso_duration(td: dt.timedelta) -> str:
    total = td.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = f"{sign}P{int(days)}D" if days else f"{sign}P"
    time_part = ""
    if hours:
        time_part += f"{int(hours)}H"
    if minutes:
        time_part += f"{int(minutes)}M"
    if seconds or not (days or hours or minutes):
        time_part += f"{seconds:g}S"
    return out + ("T" + time_part if time_part else "")


def json_size(value: Any) -> int:
    """Bytes `value` takes as compact JSON (integers beyond 64 bits measured as Python's json writes them)."""
    try:
        return len(orjson.dumps(value, default=str))
    except orjson.JSONEncodeError:
        return len(json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False).encode())


def item_size(item: Any) -> int:
    """Bytes one item of a list takes as compact JSON, with its separator."""
    return json_size(to_jsonable(item)) + 1


class CappedItems(Generic[T]):
    """Keeps items while the item and byte caps hold (the first item always fits); records why it stopped.

    The one capping loop of every tool: `add` refuses the item that would pass `max_items` or `max_bytes`.
    """

    def __init__(self, max_items: int | None, max_bytes: int, size: Callable[[T], int] = item_size) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.size = size
        self.items: list[T] = []
        self.used = 0
        self.byte_cut = False

    def full(self) -> bool:
        """No further item can be kept."""
        return self.byte_cut or (self.max_items is not None and len(self.items) >= self.max_items)

    def add(self, item: T) -> bool:
        """Keep `item` when both caps still hold; False (and nothing kept) otherwise."""
        if self.max_items is not None and len(self.items) >= self.max_items:
            return False
        size = self.size(item)
        if self.items and self.used + size > self.max_bytes:
            self.byte_cut = True
            return False
        self.used += size
        self.items.append(item)
        return True


def cap_items(
    items: Iterable[T], *, max_items: int | None, max_bytes: int, size: Callable[[T], int] = item_size
) -> tuple[list[T], bool]:
    """Keep items while both caps hold; return them and whether anything was left out."""
    kept = CappedItems(max_items, max_bytes, size)
    for item in items:
        if not kept.add(item):
            return kept.items, True
    return kept.items, False


def truncate_text(text: str, max_bytes: int, *, keep: str = "tail") -> tuple[str, bool]:
    """Cut `text` to at most `max_bytes` of UTF-8, keeping the head or the tail."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text, False
    part = raw[-max_bytes:] if keep == "tail" else raw[:max_bytes]
    return part.decode(errors="ignore"), True


def newest_lines(text: str, max_bytes: int) -> tuple[str, bool]:
    """The newest `max_bytes` of output; when cut, the partial first line is dropped as well.

    A cut line could start inside a secret's name (`...SWORD=value`), which redaction would no longer
    recognise, or inside a multi-byte character; so only whole lines are kept (unless there is only one).
    """
    out, cut = truncate_text(text, max_bytes)
    if cut and "\n" in out:
        out = out.split("\n", 1)[1]
    return out, cut
