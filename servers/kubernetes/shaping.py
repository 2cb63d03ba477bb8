"""Making API objects fit for a model: strip noise, redact secrets, summarise, diff, render YAML."""

from __future__ import annotations

import copy
import difflib
from typing import Any

from servers._common import redact_text
from servers._common.output import REDACTED, is_secret_key

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_NOISE_ANNOTATIONS = (LAST_APPLIED,)


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without managedFields and the last-applied annotation (bulky and duplicated)."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            for k in _NOISE_ANNOTATIONS:
                ann.pop(k, None)
            if not ann:
                meta.pop("annotations", None)
    return out


def is_secret(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1"


def redact_object(obj: Any, *, reveal_secrets: bool = False) -> Any:
    """Mask Secret data (keys stay visible), secret-looking env values and config keys, passwords in URLs."""
    if isinstance(obj, dict):
        if is_secret(obj) and not reveal_secrets:
            obj = dict(obj)
            for fld in ("data", "stringData"):
                if isinstance(obj.get(fld), dict):
                    obj[fld] = dict.fromkeys(obj[fld], REDACTED)
            meta = obj.get("metadata")
            if (
                isinstance(meta, dict)
                and isinstance(meta.get("annotations"), dict)
                and LAST_APPLIED in meta["annotations"]
            ):
                obj["metadata"] = {**meta, "annotations": {**meta["annotations"], LAST_APPLIED: REDACTED}}
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in ("env",) and isinstance(v, list):
                out[k] = [_redact_env_var(e) for e in v]
            elif k == "data" and obj.get("kind") == "ConfigMap" and isinstance(v, dict):
                out[k] = {dk: (REDACTED if is_secret_key(dk) and dv else redact_text(str(dv))) for dk, dv in v.items()}
            else:
                out[k] = redact_object(v, reveal_secrets=reveal_secrets)
        return out
    if isinstance(obj, list):
        return [redact_object(v, reveal_secrets=reveal_secrets) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def _redact_env_var(e: Any) -> Any:
    if isinstance(e, dict) and isinstance(e.get("name"), str) and is_secret_key(e["name"]) and e.get("value"):
        return {**e, "value": REDACTED}
    return redact_object(e)


def redact_secret_pair(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Redact two versions of a Secret so that a diff still shows which keys changed (never the values)."""
    import base64

    def values(o: dict[str, Any] | None) -> dict[str, str]:
        if not o:
            return {}
        vals = {k: str(v) for k, v in (o.get("data") or {}).items()}
        for k, v in (o.get("stringData") or {}).items():
            vals[k] = base64.b64encode(str(v).encode()).decode()
        return vals

    ov, nv = values(old), values(new)

    def mask(o: dict[str, Any], mine: dict[str, str], other: dict[str, str], mark: bool) -> dict[str, Any]:
        o = redact_object(o)
        if isinstance(o.get("data"), dict):
            o["data"] = {
                k: (f"{REDACTED} (changed)" if mark and k in other and other[k] != mine.get(k) else REDACTED)
                for k in o["data"]
            }
        return o

    return (mask(old, ov, nv, False) if old else None), mask(new, nv, ov, True)


def meta_of(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def comparable(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parts of an object worth diffing: no status, server-managed metadata or managedFields."""
    if obj is None:
        return None
    out = strip(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for k in ("resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"):
            meta.pop(k, None)
    return out


def to_yaml(obj: Any) -> str:
    import yaml

    if isinstance(obj, list):
        return yaml.safe_dump_all(obj, sort_keys=False, default_flow_style=False)
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def unified_diff(old: dict[str, Any] | None, new: dict[str, Any] | None, label: str) -> str:
    a = to_yaml(old).splitlines(keepends=True) if old is not None else []
    b = to_yaml(new).splitlines(keepends=True) if new is not None else []
    return "".join(difflib.unified_diff(a, b, fromfile=f"live/{label}", tofile=f"applied/{label}", n=2))


def table_rows(table: dict[str, Any], *, with_namespace: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of a server-side `meta.k8s.io/v1 Table` as dicts keyed by column name (priority 0 only)."""
    cols = table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(cols) if int(c.get("priority", 0)) == 0 or c.get("name") in ("IP", "Node")]
    names = [str(cols[i].get("name", f"col{i}")) for i in keep]
    rows = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        entry: dict[str, Any] = {}
        meta = meta_of(row.get("object") or {})
        if with_namespace and meta.get("namespace"):
            entry["Namespace"] = meta["namespace"]
        for i, n in zip(keep, names, strict=True):
            entry[n] = cells[i] if i < len(cells) else None
        rows.append(entry)
    return names, rows
