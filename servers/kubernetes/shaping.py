"""Making API objects fit for a model: strip noise, redact secrets, summarise, diff, render YAML."""

from __future__ import annotations

import copy
import difflib
import json
import re
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
    """A Secret by the object's own `kind` (any apiVersion: masking more is the safe side)."""
    return obj.get("kind") == "Secret"


def _mask_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret (or an object of unknown kind that may be one) with data values and last-applied masked."""
    obj = dict(obj)
    for fld in ("data", "stringData"):
        if isinstance(obj.get(fld), dict):
            obj[fld] = dict.fromkeys(obj[fld], REDACTED)
        elif obj.get(fld) is not None:
            obj[fld] = REDACTED
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict) and LAST_APPLIED in meta["annotations"]:
        obj["metadata"] = {**meta, "annotations": {**meta["annotations"], LAST_APPLIED: REDACTED}}
    return obj


def with_item_kinds(doc: dict[str, Any]) -> dict[str, Any]:
    """A list answer whose items all carry a `kind`: their own, else the list's kind without `List`.

    Items whose kind cannot be told (a generic `List` of kind-less items) are marked `Unknown`, which
    redaction treats like a Secret. The kind comes from what the server returned, never from the request.
    """
    items = doc.get("items")
    if not isinstance(items, list):
        return doc
    list_kind = str(doc.get("kind") or "")
    item_kind = list_kind[:-4] if list_kind.endswith("List") and list_kind != "List" else UNKNOWN_KIND
    version = doc.get("apiVersion")
    filled = []
    for item in items:
        if isinstance(item, dict) and not item.get("kind"):
            item = {"kind": item_kind, **({"apiVersion": version} if version else {}), **item}
        filled.append(item)
    return {**doc, "items": filled}


UNKNOWN_KIND = "Unknown"


def redact_object(obj: Any, *, reveal_secrets: bool = False) -> Any:
    """Mask Secret data (keys stay visible), secret-looking env values and config keys, passwords in URLs,
    and the same inside embedded manifests (JSON or YAML strings such as last-applied annotations)."""
    if isinstance(obj, dict):
        if (is_secret(obj) or obj.get("kind") == UNKNOWN_KIND) and not reveal_secrets:
            obj = _mask_secret(obj)
        if isinstance(obj.get("items"), list) and str(obj.get("kind", "")).endswith("List"):
            obj = with_item_kinds(obj)
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in ("env",) and isinstance(v, list):
                out[k] = [_redact_env_var(e, reveal_secrets) for e in v]
            elif k == "data" and obj.get("kind") == "ConfigMap" and isinstance(v, dict):
                out[k] = {
                    dk: (REDACTED if is_secret_key(str(dk)) and dv else redact_string(str(dv), reveal_secrets))
                    for dk, dv in v.items()
                }
            else:
                out[k] = redact_object(v, reveal_secrets=reveal_secrets)
        return out
    if isinstance(obj, list):
        return [redact_object(v, reveal_secrets=reveal_secrets) for v in obj]
    if isinstance(obj, str):
        return redact_string(obj, reveal_secrets)
    return obj


_YAML_SECRET = re.compile(r"^\s*kind:\s*[\"']?Secret[\"']?\s*$", re.MULTILINE)
_JSON_SECRET = re.compile(r'"kind"\s*:\s*"Secret"')
_YAML_KIND = re.compile(r"^\s*kind:\s*\S", re.MULTILINE)


def redact_string(text: str, reveal: bool = False) -> str:
    """A string, with any manifest embedded in it (JSON or YAML) redacted like an object.

    An embedded Secret that cannot be parsed is masked whole."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict | list):
            red = redact_object(doc, reveal_secrets=reveal)
            return json.dumps(red, separators=(",", ":")) if red != doc else redact_text(text)
        if _JSON_SECRET.search(text) and not reveal:
            return REDACTED
    elif "\n" in text and _YAML_KIND.search(text):
        return _redact_yaml(text, reveal)
    elif "\n" in text and '"kind"' in text:
        return redact_text(redact_log_manifests(text, reveal))
    return redact_text(text)


def _redact_yaml(text: str, reveal: bool) -> str:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        docs = []
    if docs and all(isinstance(d, dict) for d in docs):
        red = [redact_object(d, reveal_secrets=reveal) for d in docs]
        return to_yaml(red) if red != docs else redact_text(text)
    if _YAML_SECRET.search(text) and not reveal:
        return REDACTED
    return redact_text(text)


def redact_log_manifests(text: str, reveal: bool = False) -> str:
    """Multi-line text (logs, annotations) with API objects printed as JSON on a line redacted like returned
    objects (Secret data), also after a prefix such as a timestamp."""
    if '"kind"' not in text:
        return text
    out = []
    for line in text.split("\n"):
        at = line.find("{")
        if '"kind"' in line and at >= 0:
            line = line[:at] + redact_string(line[at:], reveal)
        out.append(line)
    return "\n".join(out)


def _redact_env_var(e: Any, reveal: bool = False) -> Any:
    if isinstance(e, dict) and isinstance(e.get("name"), str) and is_secret_key(e["name"]) and e.get("value"):
        return {**e, "value": REDACTED}
    return redact_object(e, reveal_secrets=reveal)


CHANGED = f"{REDACTED} (changed)"


def redact_pair(
    old: dict[str, Any] | None, new: dict[str, Any], *, reveal_secrets: bool = False
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Redact two versions of an object so that a diff still shows every change: a masked value whose real
    value differs is rendered `***REDACTED*** (changed)` (the values themselves never appear)."""
    r_old = redact_object(old, reveal_secrets=reveal_secrets) if old is not None else None
    r_new = redact_object(new, reveal_secrets=reveal_secrets)
    if old is None or reveal_secrets:
        return r_old, r_new
    return r_old, _mark_changed(r_old, r_new, old, new)


def _mark_changed(r_old: Any, r_new: Any, raw_old: Any, raw_new: Any) -> Any:
    """`r_new` with masked leaves marked when the real value changed but the masked text did not."""
    if isinstance(r_new, dict) and isinstance(r_old, dict) and isinstance(raw_new, dict) and isinstance(raw_old, dict):
        return {
            k: _mark_changed(r_old.get(k), v, raw_old.get(k), raw_new.get(k)) if k in r_old else v
            for k, v in r_new.items()
        }
    if isinstance(r_new, list) and isinstance(r_old, list) and isinstance(raw_new, list) and isinstance(raw_old, list):
        pairs = zip(r_new, r_old + [None] * len(r_new), raw_new, raw_old + [None] * len(r_new), strict=False)
        return [_mark_changed(ro, rn, wo, wn) for rn, ro, wn, wo in pairs]
    if isinstance(r_new, str) and REDACTED in r_new and r_new == r_old and raw_new != raw_old:
        return f"{r_new} (changed)"
    if r_new == r_old and raw_new != raw_old:  # masked inside a structure that otherwise matches
        return CHANGED
    return r_new


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
            cell = cells[i] if i < len(cells) else None
            entry[n] = REDACTED if is_secret_key(n) and isinstance(cell, str | int | float) and cell != "" else cell
        rows.append(entry)
    return names, rows
