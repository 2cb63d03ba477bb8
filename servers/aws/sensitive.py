"""Which AWS output members hold secrets, decided by botocore's service models, and masking by them.

A member is sensitive when its shape (or the member reference) carries the model's `sensitive` trait,
on a scalar or on a whole structure, list or map, or when it is on `EXTRA_SENSITIVE` (members that
hold secrets but lack the trait). A response is walked together with the operation's output shape:
sensitive members are masked wholesale (map keys and the names of name/value pairs stay visible),
name/value pairs (ECS/Batch `environment`, CloudFormation `Parameters`, tags, option settings, maps
such as Lambda `Variables`) mask values by `secret_pair`, secret-named members are masked, and text
has inline secrets masked (`mask_text`). Numbers and booleans are never masked (they carry no credential).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Literal

from servers._common import redact_output
from servers._common.output import REDACTED, is_secret_key, secret_pair

EXTRA_SENSITIVE: dict[str, dict[str, frozenset[str]]] = {
    # service -> structure shape -> members that hold a secret without the model's `sensitive` trait
    "apigateway": {"ApiKey": frozenset({"value"}), "UsagePlanKey": frozenset({"value"})},
    "appsync": {"ApiKey": frozenset({"id"})},  # an AppSync API key's id is the key itself (da2-...)
    "ecr": {"AuthorizationData": frozenset({"authorizationToken"})},
    "ecr-public": {"AuthorizationData": frozenset({"authorizationToken"})},
    "ec2": {"InstanceAttribute": frozenset({"UserData"})},  # user data is marked everywhere else
}
"""Documented gaps in botocore's `sensitive` marks, by botocore service name."""

IDENTIFIERS: dict[str, frozenset[str]] = {
    # service -> shapes marked sensitive that hold identifiers, not secrets: still masked, but they do not
    # make a read sensitive (so `aws_call` keeps reading S3 objects and their metadata in read-only mode)
    "s3": frozenset({"SSEKMSKeyId"}),
}
"""Documented exemptions from the sensitive-read classification (never from masking)."""

PAIR_KEYS = ("name", "Name", "key", "Key", "ParameterKey", "OptionName", "OutputKey", "TagKey")
PAIR_VALUES = ("value", "Value", "ParameterValue", "ResolvedValue", "OutputValue", "TagValue", "DefaultValue")
"""Members naming (keys) and holding (values) one entry of a name/value pair list."""

KEEP_KEYS = frozenset(
    {
        "NextToken",
        "nextToken",
        "ContinuationToken",
        "NextContinuationToken",
        "StartAfter",
        "Marker",
        "NextMarker",
        "NextKeyMarker",
        "KeyMarker",
        "NextVersionIdMarker",
        "VersionIdMarker",
        "NextPageToken",
        "PageToken",
        "PaginationToken",
        "nextForwardToken",
        "nextBackwardToken",
        "next_token",
        "resume_token",
        "AccessKeyId",  # an identifier AWS shows in CloudTrail and IAM listings; the secret key stays masked
    }
)
"""Secret-looking member names that are not secrets (pagination tokens, key ids): never masked by name."""


def member_sensitive(service: str, parent: Any, name: str, shape: Any) -> bool:
    """Whether member `name` (of shape `shape`) of structure `parent` holds a secret."""
    if shape.metadata.get("sensitive"):
        return True
    return name in EXTRA_SENSITIVE.get(service, {}).get(parent.name, ())


def sensitive_paths(service: str, shape: Any, path: str = "", seen: set[str] | None = None) -> list[str]:
    """Paths (`.A.B[].C{}`) of the secret-holding members under `shape`; `<root>` when the shape itself is.

    Each structure, list or map shape is expanded once (at the first path reaching it), so the walk is
    linear in the model's size. Shapes on `IDENTIFIERS` are left out: this decides whether an operation is
    a sensitive read.
    """
    seen = set() if seen is None else seen
    if shape.name in IDENTIFIERS.get(service, ()):
        return []
    if shape.metadata.get("sensitive"):
        return [path or "<root>"]
    if shape.name in seen:
        return []
    seen.add(shape.name)
    out: list[str] = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if member_sensitive(service, shape, name, member) and member.name not in IDENTIFIERS.get(service, ()):
                out.append(f"{path}.{name}")
            else:
                out += sensitive_paths(service, member, f"{path}.{name}", seen)
    elif shape.type_name == "list":
        out += sensitive_paths(service, shape.member, f"{path}[]", seen)
    elif shape.type_name == "map":
        out += sensitive_paths(service, shape.key, f"{path}{{key}}", seen)
        out += sensitive_paths(service, shape.value, f"{path}{{}}", seen)
    return out


def _pair(value: Mapping[str, Any]) -> tuple[str, str] | None:
    """(value member, name) when `value` is one name/value pair entry."""
    key = next((value[k] for k in PAIR_KEYS if isinstance(value.get(k), str)), None)
    if key is None:
        return None
    member = next((k for k in PAIR_VALUES if k in value), None)
    return (member, key) if member else None


def hide(value: Any) -> Any:
    """A sensitive value masked: every string and blob inside it, keeping map keys, pair names and numbers."""
    if isinstance(value, Mapping):
        pair = _pair(value)
        keep = {k for k in PAIR_KEYS if k in value} if pair else set()
        return {str(k): (v if k in keep else hide(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hide(v) for v in value]
    if isinstance(value, str | bytes | bytearray) and value:
        return REDACTED
    return value


def _mask_pairs(value: dict[str, Any]) -> dict[str, Any]:
    pair = _pair(value)
    if pair and secret_pair(pair[1], value[pair[0]]):
        value[pair[0]] = REDACTED
    return value


def _by_name(key: str, value: Any) -> bool:
    return key not in KEEP_KEYS and is_secret_key(key) and isinstance(value, str | bytes | bytearray) and bool(value)


def mask(service: str, shape: Any, value: Any) -> Any:
    """`value` (a parsed botocore response, or part of one) with its secrets masked, walking `shape` along."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if shape is not None and shape.metadata.get("sensitive"):
        return hide(value)
    kind = shape.type_name if shape is not None else None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            if kind == "structure":
                member = shape.members.get(key)
                if member is not None and member_sensitive(service, shape, key, member):
                    out[key] = hide(v)
                    continue
                sub = member
            else:
                sub = shape.value if kind == "map" else None
            if key in KEEP_KEYS:
                out[key] = v
            elif _by_name(key, v) or (kind == "map" and secret_pair(key, v)):
                out[key] = REDACTED
            else:
                out[key] = mask(service, sub, v)
        return _mask_pairs(out)
    if isinstance(value, list | tuple):
        return [mask(service, shape.member if kind == "list" else None, v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_response(service: str, shape: Any, value: dict[str, Any]) -> dict[str, Any]:
    """A whole response masked; an output shape marked sensitive as a whole masks everything."""
    if shape is not None and shape.metadata.get("sensitive"):
        masked: dict[str, Any] = hide(value)
        return masked
    out: dict[str, Any] = mask(service, shape, value)
    return out


def mask_text(text: str) -> str:
    """Free text an AWS resource holds (object content, log messages): `NAME=value` secrets and tokens masked."""
    return redact_output(text)


def mask_field(name: str, value: str) -> str:
    """One named text field (a Logs Insights column): masked by the pair rule, else as free text."""
    return REDACTED if secret_pair(name, value) else mask_text(value)


LOOK_BACK = 4_096
"""Bytes read before a ranged chunk to see the start of the line it continues."""


def object_content(
    data: bytes, *, more: bool, before: bytes | None = None
) -> tuple[Literal["utf-8", "base64"], str, int]:
    """Object bytes as (encoding, content, bytes used): UTF-8 text masked by `mask_text`, else base64.

    The one way S3 objects and streaming bodies reach the model (`aws_s3_object_read`, `aws_call`). When
    `more` data follows, a character cut by the byte cap is left for the next read. `before` holds the
    bytes just before a ranged chunk (None when it starts the object; a leading newline stands for the
    object start): a first line continuing a line from `before` is shown only when masking that whole line
    changes nothing, and masked whole when its start is not in `before`, since it may begin inside a
    secret's name (`...WORD=value`) or value.
    """
    try:
        return "utf-8", _masked(data.decode("utf-8"), before), len(data)
    except UnicodeDecodeError as err:
        if more and err.start >= len(data) - 3:
            try:
                return "utf-8", _masked(data[: err.start].decode("utf-8"), before), err.start
            except UnicodeDecodeError:
                pass
    return "base64", base64.b64encode(data).decode(), len(data)


def _masked(text: str, before: bytes | None) -> str:
    if not before or before.endswith(b"\n"):
        return mask_text(text)
    head, nl, rest = text.partition("\n")
    known = b"\n" in before
    start = before.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    if known and mask_text(start + head) == start + head:
        return head + nl + mask_text(rest)
    return (REDACTED if head.strip() else head) + nl + mask_text(rest)
