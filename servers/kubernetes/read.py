"""Generic reads of any kind (CRDs too): list with selectors and paging, get, describe."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import CappedItems, json_size, tool_error, truncate_text
from servers._common.paging import page_size
from servers._common.tools import READ_OPEN, tool
from servers.kubernetes.client import ApiResource, Cluster, Kube
from servers.kubernetes.common import (
    ApiVersionArg,
    Condition,
    ContextArg,
    ContinueArg,
    KindArg,
    Limit,
    NameArg,
    NamespaceArg,
    age_of,
    allowed_returned,
    call,
    conditions_of,
    get_object,
    named_target,
    shape,
    state_of,
    target,
)
from servers.kubernetes.events import EventInfo, related_events
from servers.kubernetes.shaping import meta_of, redact_object, table_rows, to_yaml, with_item_kinds

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"

Output = Literal["table", "json", "yaml", "names"]
Entry = tuple[str | None, str, Any, bool]  # (namespace, name, shaped row/object or None, allowed by policy)


def _decode_cursor(token: str | None) -> tuple[str | None, int]:
    """A continue token: the server's own, or ours (`bam1.`: the server's plus items to skip after a byte cut)."""
    if not token:
        return None, 0
    if token.startswith("bam1."):
        try:
            doc = json.loads(base64.urlsafe_b64decode(token[5:].encode()))
            server, skip = doc.get("c"), int(doc.get("s", 0))
            if not (server is None or isinstance(server, str)) or not 0 <= skip <= 100_000:
                raise ValueError("bad cursor")
            return server, skip
        except (ValueError, TypeError, AttributeError) as exc:
            raise tool_error("read the continue token", "malformed continue_token", hint="list from the start") from exc
    return token, 0


def _encode_cursor(server_token: str | None, skip: int) -> str:
    raw = json.dumps({"c": server_token, "s": skip}).encode()
    return "bam1." + base64.urlsafe_b64encode(raw).decode()


class ResourceListResult(BaseModel):
    kind: str
    api_version: str
    namespace: str | None = Field(description="Namespace listed; null for all namespaces or cluster-scoped kinds")
    columns: list[str] = Field(default_factory=list, description="Column names of `rows` (table output)")
    rows: list[dict[str, Any]] = Field(default_factory=list, description="Table rows (output=table)")
    items: list[dict[str, Any]] = Field(default_factory=list, description="Full objects (output=json)")
    yaml: str | None = Field(default=None, description="Objects as YAML documents (output=yaml)")
    names: list[str] = Field(default_factory=list, description="Names, namespace/name across namespaces (output=names)")
    count: int = Field(description="Objects in this page")
    truncated: bool = Field(description="True when more objects exist: pass `continue_token` to get them")
    continue_token: str | None = Field(description="Pass back as `continue_token` for the next page")
    remaining_item_count: int | None = Field(default=None, description="Server's estimate of objects left")
    hidden_by_policy: int = Field(default=0, description="Objects left out because their namespace is not allowed")
    notes: list[str] = Field(default_factory=list)


def _table_entries(
    kube: Kube, cluster: Cluster, res: ApiResource, doc: dict[str, Any], rows: list[Any], ns: str | None
) -> tuple[list[str], list[Entry]]:
    """Rows of a server-side Table (with their object's metadata) as compact dicts."""
    columns, shaped_rows = table_rows({**doc, "rows": rows}, with_namespace=ns is None)
    entries: list[Entry] = []
    for row, shaped in zip(rows, shaped_rows, strict=True):
        obj = row.get("object") if isinstance(row.get("object"), dict) else {}
        m = meta_of(obj)
        allowed = allowed_returned(kube, cluster, obj, res)
        entries.append((m.get("namespace"), m.get("name", ""), redact_object(shaped), allowed))
    return columns, entries


def _item_entries(
    kube: Kube, cluster: Cluster, res: ApiResource, items: list[Any], output: Output, ns: str | None
) -> list[Entry]:
    """Plain list items (each with the kind the server gave it) as names, shaped objects, or Name/Age rows."""
    entries: list[Entry] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        m = meta_of(item)
        payload: Any = None
        if output == "table":
            payload = {
                **({"Namespace": m.get("namespace")} if ns is None and m.get("namespace") else {}),
                "Name": m.get("name"),
                "Age": age_of(m.get("creationTimestamp")),
            }
        elif output != "names":
            payload = shape(kube, item)
        entries.append((m.get("namespace"), m.get("name", ""), payload, allowed_returned(kube, cluster, item, res)))
    return entries


def _entry_size(entry: Entry) -> int:
    return json_size(entry[2] if entry[2] is not None else entry[1]) + 1


def _fit(kube: Kube, entries: list[Entry]) -> tuple[list[Entry], int, int | None]:
    """Entries the policy shows, up to the byte cap: (kept, hidden, index of the first entry cut or None)."""
    kept = CappedItems(None, kube.settings.max_bytes, _entry_size)
    hidden = 0
    for i, entry in enumerate(entries):
        if not entry[3]:
            hidden += 1
        elif not kept.add(entry):
            return kept.items, hidden, i
    return kept.items, hidden, None


def _entries(
    kube: Kube, cluster: Cluster, res: ApiResource, doc: Any, skip: int, output: Output, ns: str | None, action: str
) -> tuple[list[str], list[Entry]]:
    """The entries of a list answer, judged by what the server returned (a Table or a ...List)."""
    kind = str(doc.get("kind") or "") if isinstance(doc, dict) else ""
    if kind == "Table":
        return _table_entries(kube, cluster, res, doc, (doc.get("rows") or [])[skip:], ns)
    if not kind.endswith("List") or not isinstance(doc.get("items"), list):
        raise tool_error(action, f"refused: the API server answered with {kind or 'no kind'}, not a list")
    items = with_item_kinds(doc)["items"][skip:]
    return ["Name", "Age"], _item_entries(kube, cluster, res, items, output, ns)


@tool("List objects of any kind", READ_OPEN)
async def k8s_resources_list(
    ctx: Context[Any, Any],
    kind: KindArg,
    namespace: NamespaceArg = None,
    all_namespaces: bool = False,
    label_selector: Annotated[str | None, Field(description="e.g. app=web,tier!=db")] = None,
    field_selector: Annotated[str | None, Field(description="e.g. status.phase=Running")] = None,
    output: Annotated[Output, Field(description="table: kubectl-like columns; json: full objects")] = "table",
    limit: Limit = None,
    continue_token: ContinueArg = None,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> ResourceListResult:
    """List objects of any kind (CRDs too), as a compact table by default; Secret values redacted."""
    kube = state_of(ctx)
    s = kube.settings
    action = f"list {kind}"
    cluster, res, ns = await target(kube, context, kind, api_version, namespace, action, all_namespaces=all_namespaces)
    if "list" not in res.verbs:
        raise tool_error(action, f"{res.qualified} does not support list", code="MethodNotSupported")
    page = page_size(kube.settings, limit)
    notes = [f"limit capped at {s.max_items_limit}"] if limit and limit > s.max_items_limit else []
    server_token, skip = _decode_cursor(continue_token)
    query = {
        "labelSelector": label_selector,
        "fieldSelector": field_selector,
        "limit": page + skip,
        "continue": server_token,
        "includeObject": "Metadata" if output == "table" else None,
    }
    accept = TABLE_ACCEPT if output == "table" else "application/json"
    doc = await call(kube, action, cluster.request, "GET", res.path(namespace=ns), query=query, accept=accept)
    columns, entries = _entries(kube, cluster, res, doc, skip, output, ns, action)
    meta = doc.get("metadata") or {}
    kept, hidden, cut_at = _fit(kube, entries)
    if cut_at is not None:
        notes.append(f"page cut at the {s.max_bytes}-byte cap; use output=table or a smaller limit")
        token: str | None = _encode_cursor(server_token, skip + cut_at)
    else:
        token = meta.get("continue") or None
    if hidden:
        notes.append(f"{hidden} object(s) hidden: their namespace or kind is not allowed by policy")
    result = ResourceListResult(
        kind=res.kind,
        api_version=res.api_version,
        namespace=ns,
        count=len(kept),
        truncated=token is not None,
        continue_token=token,
        remaining_item_count=meta.get("remainingItemCount"),
        hidden_by_policy=hidden,
        notes=notes,
    )
    payloads = [p for _, _, p, _ in kept]
    if output == "table":
        result.columns = (["Namespace"] if ns is None and res.namespaced else []) + columns
        result.rows = payloads
    elif output == "json":
        result.items = payloads
    elif output == "yaml":
        result.yaml = to_yaml(payloads) if kept else ""
    else:
        result.names = [f"{ens}/{ename}" if ens and ns is None else ename for ens, ename, _, _ in kept]
    return result


async def _read_one(
    kube: Kube, verb: str, kind: str, name: str, namespace: str | None, api_version: str | None, context: str | None
) -> tuple[Cluster, ApiResource, str | None, dict[str, Any]]:
    """One object by the tool's arguments, shaped for output, and where it was read (`action`: verb kind name)."""
    action, cluster, res, ns = await named_target(kube, verb, kind, name, namespace, api_version, context)
    return cluster, res, ns, shape(kube, await get_object(kube, cluster, res, name, ns, action))


def _identity(res: ApiResource, name: str, ns: str | None) -> dict[str, Any]:
    """The fields that name the object in a result: kind, api_version, name, namespace."""
    return {"kind": res.kind, "api_version": res.api_version, "name": name, "namespace": ns}


class ResourceGetResult(BaseModel):
    kind: str
    api_version: str
    name: str
    namespace: str | None
    object: dict[str, Any] | None = Field(description="The object (managedFields stripped, secrets redacted)")
    yaml: str | None = Field(default=None, description="The object as YAML (output=yaml, or when too large)")
    truncated: bool = Field(description="True when the object exceeded the byte cap and `yaml` was cut")


@tool("Get one object", READ_OPEN)
async def k8s_resource_get(
    ctx: Context[Any, Any],
    kind: KindArg,
    name: NameArg,
    namespace: NamespaceArg = None,
    output: Literal["json", "yaml"] = "json",
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> ResourceGetResult:
    """Get one object of any kind as JSON or YAML (Secret values redacted)."""
    kube = state_of(ctx)
    _, res, ns, obj = await _read_one(kube, "get", kind, name, namespace, api_version, context)
    as_text = output == "yaml" or json_size(obj) > kube.settings.max_bytes
    text: str | None = None
    truncated = False
    if as_text:
        text, truncated = truncate_text(to_yaml(obj), kube.settings.max_bytes, keep="head")
    return ResourceGetResult(
        **_identity(res, name, ns),
        object=None if as_text else obj,
        yaml=text,
        truncated=truncated,
    )


class ContainerInfo(BaseModel):
    name: str
    image: str | None
    ready: bool | None = None
    restarts: int | None = None
    state: str | None = Field(default=None, description="running / waiting (reason) / terminated (reason)")


class DescribeResult(BaseModel):
    kind: str
    api_version: str
    name: str
    namespace: str | None
    uid: str | None
    created: str | None
    age: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    owners: list[str] = Field(description="Owner references as Kind/name")
    conditions: list[Condition]
    containers: list[ContainerInfo] = Field(default_factory=list, description="Pods: per-container state")
    spec: dict[str, Any] | None = Field(description="The spec (redacted), or null when over the byte cap")
    status: dict[str, Any] | None = Field(description="The status, or null when over the byte cap")
    events: list[EventInfo] = Field(description="Related events, newest first")
    events_truncated: bool
    truncated: bool = Field(description="True when spec/status were dropped for size")


def _containers(pod: dict[str, Any]) -> list[ContainerInfo]:
    statuses = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []}
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        st = statuses.get(c.get("name"), {})
        state = None
        for k, v in (st.get("state") or {}).items():
            reason = (v or {}).get("reason")
            state = f"{k} ({reason})" if reason else k
        out.append(
            ContainerInfo(
                name=c.get("name", ""),
                image=c.get("image"),
                ready=st.get("ready"),
                restarts=st.get("restartCount"),
                state=state,
            )
        )
    return out


@tool("Describe an object with its events", READ_OPEN)
async def k8s_resource_describe(
    ctx: Context[Any, Any],
    kind: KindArg,
    name: NameArg,
    namespace: NamespaceArg = None,
    events_limit: Annotated[int, Field(ge=0, le=200, description="Recent events to include")] = 20,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> DescribeResult:
    """Describe an object like `kubectl describe`: owners, conditions, containers, status, events."""
    kube = state_of(ctx)
    cluster, res, ns, obj = await _read_one(kube, "describe", kind, name, namespace, api_version, context)
    m = meta_of(obj)
    events: list[EventInfo] = []
    ev_trunc = False
    if events_limit and m.get("uid"):
        events, ev_trunc = await related_events(kube, cluster, res, ns, name, m["uid"], events_limit)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    status = obj.get("status") if isinstance(obj.get("status"), dict) else None
    if spec is None and obj.get("kind") in ("ConfigMap", "Secret"):
        spec = {k: obj[k] for k in ("data", "stringData", "binaryData", "type") if k in obj}
    truncated = json_size(spec) + json_size(status) > kube.settings.max_bytes
    return DescribeResult(
        **_identity(res, name, ns),
        uid=m.get("uid"),
        created=m.get("creationTimestamp"),
        age=age_of(m.get("creationTimestamp")),
        labels=m.get("labels") or {},
        annotations={k: str(v)[:500] for k, v in (m.get("annotations") or {}).items()},
        owners=[f"{o.get('kind')}/{o.get('name')}" for o in m.get("ownerReferences") or []],
        conditions=conditions_of(obj),
        containers=_containers(obj) if obj.get("kind") == "Pod" else [],
        spec=None if truncated else spec,
        status=None if truncated else status,
        events=events,
        events_truncated=ev_trunc,
        truncated=truncated,
    )
