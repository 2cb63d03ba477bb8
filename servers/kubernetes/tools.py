"""Kubernetes tools: discovery, generic list/get/describe, events, logs, apply, delete, scale, rollouts, nodes."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import (
    DESTRUCTIVE,
    READ_OPEN,
    WRITE,
    WRITE_IDEMPOTENT,
    ToolSpec,
    json_size,
    lifespan_state,
    redact_text,
    tool_error,
    truncate_text,
)
from servers._common.tools import open_world
from servers.kubernetes.client import ApiResource, Cluster, Kube, KubeApiError, translate
from servers.kubernetes.shaping import (
    comparable,
    is_secret,
    meta_of,
    redact_object,
    redact_secret_pair,
    strip,
    table_rows,
    to_yaml,
    unified_diff,
)

KEY = "kubernetes"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

ContextArg = Annotated[
    str | None, Field(description="kubeconfig context (default: the current one; see k8s_contexts_list)")
]
KindArg = Annotated[
    str,
    Field(
        description="Resource type: kind (Deployment), plural (deployments), short name (deploy), "
        "or qualified (deployments.apps); CRDs included"
    ),
]
ApiVersionArg = Annotated[
    str | None, Field(description="apiVersion or group to disambiguate, e.g. apps/v1 or batch/v1beta1")
]
NamespaceArg = Annotated[
    str | None, Field(description="Namespace (default: the context's namespace); ignored for cluster-scoped kinds")
]
LimitArg = Annotated[int | None, Field(ge=1, description="Items per page (default 50, capped by the server setting)")]
ContinueArg = Annotated[str | None, Field(description="`continue_token` of the previous page, to fetch the next one")]


def _kube(ctx: Context[Any, Any]) -> Kube:
    kube: Kube = lifespan_state(ctx, KEY)
    return kube


async def _call(kube: Kube, action: str, fn: Any, *args: Any, hint: str | None = None, **kwargs: Any) -> Any:
    """Run a blocking cluster call in a worker thread; every failure becomes a ToolError."""
    try:
        return await kube.backend.run_sync(fn, *args, **kwargs)
    except Exception as exc:
        raise translate(exc, action, hint=hint) from exc


# ---------------------------------------------------------------------------------------------------------
# policy


def _guard_kind(kube: Kube, res: ApiResource, action: str) -> None:
    if kube.settings.kind_denied(res.kind, res.plural, res.group):
        raise tool_error(
            action,
            f"refused: kind {res.kind} ({res.qualified}) is in the denied kinds",
            code="Forbidden by policy",
            hint="the server's BAM_K8S_DENIED_KINDS setting blocks it on every call",
        )


def _guard_namespace(kube: Kube, namespace: str, action: str) -> None:
    if not kube.settings.namespace_allowed(namespace):
        s = kube.settings
        allowed = s.allowed_namespaces or "(all)"
        raise tool_error(
            action,
            f"refused: namespace {namespace!r} is not allowed by policy",
            code="Forbidden by policy",
            hint=f"allowed namespaces: {allowed}; denied: {s.denied_namespaces or '(none)'} "
            "(BAM_K8S_ALLOWED_NAMESPACES / BAM_K8S_DENIED_NAMESPACES)",
        )


def _visible(kube: Kube, obj_namespace: str | None, res: ApiResource, name: str | None = None) -> bool:
    """Whether an object from a cross-namespace or cluster-scoped list may be shown."""
    if res.namespaced and obj_namespace:
        return kube.settings.namespace_allowed(obj_namespace)
    if res.kind == "Namespace" and res.group == "" and name:
        return kube.settings.namespace_allowed(name)
    return True


async def _target(
    kube: Kube,
    context: str | None,
    kind: str,
    api_version: str | None,
    namespace: str | None,
    action: str,
    *,
    name: str | None = None,
) -> tuple[Cluster, ApiResource, str | None]:
    """Resolve the context and kind, apply the policy, and return the namespace to use (None if cluster-scoped)."""
    cluster = await kube.cluster(context)
    res: ApiResource = await _call(kube, "discover API resources", cluster.resolve, kind, api_version)
    _guard_kind(kube, res, action)
    ns = (namespace or cluster.default_namespace) if res.namespaced else None
    if ns is not None:
        _guard_namespace(kube, ns, action)
    elif res.kind == "Namespace" and res.group == "" and name:
        _guard_namespace(kube, name, action)
    return cluster, res, ns


def _shape(kube: Kube, obj: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = redact_object(strip(obj), reveal_secrets=kube.settings.reveal_secrets)
    return shaped


def _age(ts: str | None) -> str | None:
    if not ts:
        return None
    try:
        then = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    secs = int((dt.datetime.now(dt.UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{max(secs, 0)}s"


# ---------------------------------------------------------------------------------------------------------
# contexts and discovery


class ContextInfo(BaseModel):
    name: str
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = Field(default=None, description="Default namespace of the context")
    current: bool
    allowed: bool = Field(description="False when the server's context allow-list refuses it")


class ContextList(BaseModel):
    contexts: list[ContextInfo]
    current: str | None
    in_cluster: bool


async def k8s_contexts_list(ctx: Context[Any, Any]) -> ContextList:
    """List the kubeconfig contexts (cluster, user, default namespace) and which ones tools may use."""
    kube = _kube(ctx)
    clients = await kube.backend.get()
    current = kube.settings.context or clients.current
    out = []
    for c in clients.contexts:
        body = c.get("context") or {}
        out.append(
            ContextInfo(
                name=c["name"],
                cluster=body.get("cluster"),
                user=body.get("user"),
                namespace=body.get("namespace"),
                current=c["name"] == current,
                allowed=kube.settings.context_allowed(c["name"]),
            )
        )
    return ContextList(contexts=out, current=current, in_cluster=clients.in_cluster)


class ApiResourceInfo(BaseModel):
    kind: str
    name: str = Field(description="Plural resource name")
    api_version: str
    namespaced: bool
    short_names: list[str]
    verbs: list[str]
    subresources: list[str]
    preferred: bool = Field(description="Whether this is the group's preferred version")


class ApiResourceList(BaseModel):
    resources: list[ApiResourceInfo]
    count: int
    truncated: bool
    next_offset: int | None


async def k8s_api_resources(
    ctx: Context[Any, Any],
    context: ContextArg = None,
    search: Annotated[
        str | None, Field(description="Case-insensitive substring of kind, plural, short name or group")
    ] = None,
    group: Annotated[str | None, Field(description="Only this API group ('' or 'core' for the core group)")] = None,
    namespaced: Annotated[bool | None, Field(description="Only namespaced (true) or cluster-scoped (false)")] = None,
    all_versions: Annotated[bool, Field(description="Include non-preferred versions")] = False,
    refresh: Annotated[bool, Field(description="Re-run discovery now instead of using the cache")] = False,
    limit: Annotated[int, Field(ge=1, le=1000, description="Items per page")] = 200,
    offset: Annotated[int, Field(ge=0, description="`next_offset` of the previous page")] = 0,
) -> ApiResourceList:
    """Discover the resource types the cluster serves (built-in kinds and CRDs), like `kubectl api-resources`."""
    kube = _kube(ctx)
    cluster = await kube.cluster(context)
    resources: list[ApiResource] = await _call(kube, "discover API resources", cluster.resources, refresh)
    want_group = "" if group in ("core", "") else group
    s = (search or "").lower()
    picked = []
    for r in resources:
        if not all_versions and not r.preferred:
            continue
        if want_group is not None and r.group != want_group:
            continue
        if namespaced is not None and r.namespaced != namespaced:
            continue
        if s and not any(s in x.lower() for x in (r.kind, r.plural, r.group, *r.short_names)):
            continue
        picked.append(r)
    page = picked[offset : offset + limit]
    more = len(picked) > offset + limit
    return ApiResourceList(
        resources=[
            ApiResourceInfo(
                kind=r.kind,
                name=r.plural,
                api_version=r.api_version,
                namespaced=r.namespaced,
                short_names=list(r.short_names),
                verbs=list(r.verbs),
                subresources=list(r.subresources),
                preferred=r.preferred,
            )
            for r in page
        ],
        count=len(page),
        truncated=more,
        next_offset=offset + limit if more else None,
    )


# ---------------------------------------------------------------------------------------------------------
# generic list / get / describe


def _decode_cursor(token: str | None) -> tuple[str | None, int]:
    if not token:
        return None, 0
    if token.startswith("bam1."):
        try:
            doc = json.loads(base64.urlsafe_b64decode(token[5:].encode()))
            return doc.get("c"), int(doc.get("s", 0))
        except (ValueError, TypeError) as exc:
            raise tool_error("read the continue token", "malformed continue_token", hint="list from the start") from exc
    return token, 0


def _encode_cursor(server_token: str | None, skip: int) -> str:
    raw = json.dumps({"c": server_token, "s": skip}).encode()
    return "bam1." + base64.urlsafe_b64encode(raw).decode()


Output = Literal["table", "json", "yaml", "names"]


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


async def k8s_resources_list(
    ctx: Context[Any, Any],
    kind: KindArg,
    namespace: NamespaceArg = None,
    all_namespaces: Annotated[bool, Field(description="List across all namespaces")] = False,
    label_selector: Annotated[str | None, Field(description="Label selector, e.g. app=web,tier!=db")] = None,
    field_selector: Annotated[
        str | None, Field(description="Field selector, e.g. status.phase=Running or metadata.name=x")
    ] = None,
    output: Annotated[
        Output, Field(description="table (compact kubectl-like columns, default), json (full objects), yaml, names")
    ] = "table",
    limit: LimitArg = None,
    continue_token: ContinueArg = None,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> ResourceListResult:
    """List objects of ANY kind (CRDs too) with selectors and server-side paging; compact table by default.

    managedFields are stripped and Secret values redacted in every output. Follow `continue_token` while
    `truncated` is true to read further pages.
    """
    kube = _kube(ctx)
    s = kube.settings
    action = f"list {kind}"
    if all_namespaces:
        cluster = await kube.cluster(context)
        res: ApiResource = await _call(kube, "discover API resources", cluster.resolve, kind, api_version)
        _guard_kind(kube, res, action)
        ns: str | None = None
    else:
        cluster, res, ns = await _target(kube, context, kind, api_version, namespace, action)
    if "list" not in res.verbs:
        raise tool_error(action, f"{res.qualified} does not support list", code="MethodNotSupported")
    page = min(limit or s.max_items, s.max_items_limit)
    notes = [f"limit capped at {s.max_items_limit}"] if limit and limit > s.max_items_limit else []
    server_token, skip = _decode_cursor(continue_token)
    accept = TABLE_ACCEPT if output == "table" else "application/json"
    query = {
        "labelSelector": label_selector,
        "fieldSelector": field_selector,
        "limit": page + skip,
        "continue": server_token,
    }
    if output == "table":
        query["includeObject"] = "Metadata"
    doc = await _call(kube, action, cluster.request, "GET", res.path(namespace=ns), query=query, accept=accept)
    meta = doc.get("metadata") or {}
    next_server = meta.get("continue") or None
    is_table = doc.get("kind") == "Table"
    raw_entries: list[Any] = (doc.get("rows") if is_table else doc.get("items")) or []
    raw_entries = raw_entries[skip:]

    # keep entries while policy and byte caps allow
    columns: list[str] = []
    if is_table:
        columns, shaped_rows = table_rows({**doc, "rows": raw_entries}, with_namespace=ns is None)
        entries: list[tuple[str | None, str, Any]] = []
        for row, shaped in zip(raw_entries, shaped_rows, strict=True):
            m = meta_of(row.get("object") or {})
            entries.append((m.get("namespace"), m.get("name", ""), redact_object(shaped)))
    else:
        entries = []
        for item in raw_entries:
            m = meta_of(item)
            if output == "names":
                entries.append((m.get("namespace"), m.get("name", ""), None))
            else:
                item.setdefault("kind", res.kind)
                item.setdefault("apiVersion", res.api_version)
                shaped_item = _shape(kube, item)
                if output == "table":  # server returned plain JSON (aggregated APIs without Table support)
                    shaped_item = {
                        **({"Namespace": m.get("namespace")} if ns is None and m.get("namespace") else {}),
                        "Name": m.get("name"),
                        "Age": _age(m.get("creationTimestamp")),
                    }
                entries.append((m.get("namespace"), m.get("name", ""), shaped_item))
        if output == "table":
            columns = ["Name", "Age"]
    kept: list[tuple[str | None, str, Any]] = []
    hidden = 0
    used = 0
    cut_at: int | None = None
    for i, (ens, ename, payload) in enumerate(entries):
        if not _visible(kube, ens, res, ename):
            hidden += 1
            continue
        size = json_size(payload if payload is not None else ename) + 1
        if kept and used + size > s.max_bytes:
            cut_at = i
            notes.append(f"page cut at the {s.max_bytes}-byte cap; use output=table or a smaller limit")
            break
        used += size
        kept.append((ens, ename, payload))
    if cut_at is not None:
        token: str | None = _encode_cursor(server_token, skip + cut_at)
    else:
        token = next_server
    if hidden:
        notes.append(f"{hidden} object(s) hidden: their namespace is not allowed by policy")
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
    if output == "table":
        result.columns = (["Namespace"] if ns is None and res.namespaced else []) + columns
        result.rows = [p for _, _, p in kept]
    elif output == "json":
        result.items = [p for _, _, p in kept]
    elif output == "yaml":
        result.yaml = to_yaml([p for _, _, p in kept]) if kept else ""
    else:
        result.names = [f"{ens}/{ename}" if ens and ns is None else ename for ens, ename, _ in kept]
    return result


class ResourceGetResult(BaseModel):
    kind: str
    api_version: str
    name: str
    namespace: str | None
    object: dict[str, Any] | None = Field(description="The object (managedFields stripped, secrets redacted)")
    yaml: str | None = Field(default=None, description="The object as YAML (output=yaml, or when too large)")
    truncated: bool = Field(description="True when the object exceeded the byte cap and `yaml` was cut")


async def _get_object(
    kube: Kube, cluster: Cluster, res: ApiResource, name: str, ns: str | None, action: str
) -> dict[str, Any]:
    obj: dict[str, Any] = await _call(kube, action, cluster.request, "GET", res.path(name=name, namespace=ns))
    return obj


async def k8s_resource_get(
    ctx: Context[Any, Any],
    kind: KindArg,
    name: Annotated[str, Field(description="Object name")],
    namespace: NamespaceArg = None,
    output: Annotated[Literal["json", "yaml"], Field(description="json (structured, default) or yaml text")] = "json",
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> ResourceGetResult:
    """Get one object of any kind as JSON or YAML (managedFields stripped; Secret values always redacted)."""
    kube = _kube(ctx)
    action = f"get {kind} {name}"
    cluster, res, ns = await _target(kube, context, kind, api_version, namespace, action, name=name)
    obj = _shape(kube, await _get_object(kube, cluster, res, name, ns, action))
    too_big = json_size(obj) > kube.settings.max_bytes
    text: str | None = None
    truncated = False
    if output == "yaml" or too_big:
        text, truncated = truncate_text(to_yaml(obj), kube.settings.max_bytes, keep="head")
    return ResourceGetResult(
        kind=res.kind,
        api_version=res.api_version,
        name=name,
        namespace=ns,
        object=None if (output == "yaml" or too_big) else obj,
        yaml=text,
        truncated=truncated,
    )


class EventInfo(BaseModel):
    namespace: str | None
    type: str | None = Field(description="Normal or Warning")
    reason: str | None
    object: str = Field(description="Kind/name of the object the event is about")
    message: str | None
    count: int | None
    first_seen: str | None
    last_seen: str | None
    source: str | None


def _event(e: dict[str, Any]) -> EventInfo:
    inv = e.get("involvedObject") or e.get("regarding") or {}
    src = e.get("source") or {}
    m = meta_of(e)
    last = e.get("lastTimestamp") or e.get("eventTime") or m.get("creationTimestamp")
    return EventInfo(
        namespace=m.get("namespace"),
        type=e.get("type"),
        reason=e.get("reason"),
        object=f"{inv.get('kind', '?')}/{inv.get('name', '?')}",
        message=redact_text(e.get("message") or e.get("note") or "") or None,
        count=e.get("count"),
        first_seen=e.get("firstTimestamp") or e.get("eventTime"),
        last_seen=last,
        source=src.get("component") or e.get("reportingComponent") or e.get("reportingController"),
    )


def _sort_events(events: list[EventInfo]) -> list[EventInfo]:
    return sorted(events, key=lambda e: e.last_seen or "", reverse=True)


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition: str | None = None


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


async def k8s_resource_describe(
    ctx: Context[Any, Any],
    kind: KindArg,
    name: Annotated[str, Field(description="Object name")],
    namespace: NamespaceArg = None,
    events_limit: Annotated[int, Field(ge=0, le=200, description="Most recent related events to include")] = 20,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> DescribeResult:
    """Describe an object like `kubectl describe`: metadata, owners, conditions, containers, spec, status, events."""
    kube = _kube(ctx)
    action = f"describe {kind} {name}"
    cluster, res, ns = await _target(kube, context, kind, api_version, namespace, action, name=name)
    obj = _shape(kube, await _get_object(kube, cluster, res, name, ns, action))
    m = meta_of(obj)
    events: list[EventInfo] = []
    ev_trunc = False
    if events_limit and m.get("uid"):
        ev_path = f"/api/v1/namespaces/{ns}/events" if ns else "/api/v1/events"
        selector = f"involvedObject.uid={m['uid']}"
        if res.kind == "Node" and res.group == "":  # node events carry the node name as uid, or the real one
            selector = f"involvedObject.kind=Node,involvedObject.name={name}"
        doc = await _call(
            kube,
            "list related events",
            cluster.request,
            "GET",
            ev_path,
            query={"fieldSelector": selector, "limit": 500},
        )
        events = _sort_events([_event(e) for e in doc.get("items") or []])
        ev_trunc = len(events) > events_limit or bool((doc.get("metadata") or {}).get("continue"))
        events = events[:events_limit]
    conds = []
    for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(obj.get("status"), dict) else []:
        if isinstance(c, dict) and c.get("type"):
            conds.append(
                Condition(
                    type=str(c["type"]),
                    status=str(c.get("status", "")),
                    reason=c.get("reason"),
                    message=c.get("message"),
                    last_transition=c.get("lastTransitionTime"),
                )
            )
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    status = obj.get("status") if isinstance(obj.get("status"), dict) else None
    if spec is None and res.kind in ("ConfigMap", "Secret"):
        spec = {k: obj[k] for k in ("data", "stringData", "binaryData", "type") if k in obj}
    truncated = json_size(spec) + json_size(status) > kube.settings.max_bytes
    return DescribeResult(
        kind=res.kind,
        api_version=res.api_version,
        name=name,
        namespace=ns,
        uid=m.get("uid"),
        created=m.get("creationTimestamp"),
        age=_age(m.get("creationTimestamp")),
        labels=m.get("labels") or {},
        annotations={k: str(v)[:500] for k, v in (m.get("annotations") or {}).items()},
        owners=[f"{o.get('kind')}/{o.get('name')}" for o in m.get("ownerReferences") or []],
        conditions=conds,
        containers=_containers(obj) if res.kind == "Pod" else [],
        spec=None if truncated else spec,
        status=None if truncated else status,
        events=events,
        events_truncated=ev_trunc,
        truncated=truncated,
    )


# ---------------------------------------------------------------------------------------------------------
# events, logs, namespaces


class EventList(BaseModel):
    events: list[EventInfo] = Field(description="Events of this page, newest first")
    count: int
    truncated: bool
    continue_token: str | None
    hidden_by_policy: int = 0


async def k8s_events_list(
    ctx: Context[Any, Any],
    namespace: NamespaceArg = None,
    all_namespaces: Annotated[bool, Field(description="Events of all namespaces")] = False,
    kind: Annotated[str | None, Field(description="Only events about this kind, e.g. Pod (exact Kind)")] = None,
    name: Annotated[str | None, Field(description="Only events about the object with this name")] = None,
    type: Annotated[Literal["Normal", "Warning"] | None, Field(description="Only Normal or Warning events")] = None,
    reason: Annotated[str | None, Field(description="Only this reason, e.g. BackOff, FailedScheduling")] = None,
    limit: LimitArg = None,
    continue_token: ContinueArg = None,
    context: ContextArg = None,
) -> EventList:
    """List core/v1 events of a namespace (or all), optionally about one object, by type or reason."""
    kube = _kube(ctx)
    s = kube.settings
    cluster = await kube.cluster(context)
    events_res = ApiResource("", "v1", "Event", "events", "event", True, ("list",))
    _guard_kind(kube, events_res, "list events")
    ns = None if all_namespaces else (namespace or cluster.default_namespace)
    if ns is not None:
        _guard_namespace(kube, ns, "list events")
    selectors = []
    if kind:
        selectors.append(f"involvedObject.kind={kind}")
    if name:
        selectors.append(f"involvedObject.name={name}")
    if type:
        selectors.append(f"type={type}")
    if reason:
        selectors.append(f"reason={reason}")
    page = min(limit or s.max_items, s.max_items_limit)
    path = f"/api/v1/namespaces/{ns}/events" if ns else "/api/v1/events"
    doc = await _call(
        kube,
        "list events",
        cluster.request,
        "GET",
        path,
        query={"fieldSelector": ",".join(selectors) or None, "limit": page, "continue": continue_token},
    )
    hidden = 0
    events = []
    for e in doc.get("items") or []:
        ev = _event(e)
        if ev.namespace and not s.namespace_allowed(ev.namespace):
            hidden += 1
            continue
        events.append(ev)
    token = (doc.get("metadata") or {}).get("continue") or None
    return EventList(
        events=_sort_events(events),
        count=len(events),
        truncated=token is not None,
        continue_token=token,
        hidden_by_policy=hidden,
    )


class PodLogs(BaseModel):
    pod: str
    namespace: str
    container: str
    containers: list[str] = Field(description="All containers of the pod")
    text: str = Field(description="Log text (the most recent part when truncated); secrets masked")
    bytes: int
    lines: int
    truncated: bool = Field(description="True when older output was cut to fit `max_bytes`")
    notes: list[str] = Field(default_factory=list)


async def k8s_pod_logs(
    ctx: Context[Any, Any],
    name: Annotated[str, Field(description="Pod name")],
    namespace: NamespaceArg = None,
    container: Annotated[
        str | None, Field(description="Container (default: the pod's default container or its first one)")
    ] = None,
    tail_lines: Annotated[int | None, Field(ge=1, le=100_000, description="Last N lines (default 200)")] = 200,
    since_seconds: Annotated[int | None, Field(ge=1, description="Only lines newer than this many seconds")] = None,
    previous: Annotated[bool, Field(description="Logs of the previous (crashed) instance of the container")] = False,
    timestamps: Annotated[bool, Field(description="Prefix each line with its RFC3339 timestamp")] = False,
    max_bytes: Annotated[int | None, Field(ge=256, le=1_000_000, description="Byte cap (default 64 kB)")] = None,
    context: ContextArg = None,
) -> PodLogs:
    """Read a pod container's logs: tail, since, previous instance; bounded by bytes, keeping the newest lines."""
    kube = _kube(ctx)
    action = f"read logs of pod {name}"
    cluster, res, ns = await _target(kube, context, "pods", "v1", namespace, action)
    assert ns is not None
    pod = await _get_object(kube, cluster, res, name, ns, action)
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    notes = []
    if container is None:
        default = (meta_of(pod).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        container = default if default in names else (names[0] if names else None)
        if len(names) > 1:
            notes.append(f"pod has containers {names}; showing {container!r} (pass `container`)")
    if container is None:
        raise tool_error(action, "the pod has no containers")
    cap = max_bytes or kube.settings.log_max_bytes
    query = {
        "container": container,
        "tailLines": tail_lines,
        "sinceSeconds": since_seconds,
        "previous": previous or None,
        "timestamps": timestamps or None,
        "limitBytes": cap * 8,
    }
    data: bytes = await _call(
        kube,
        action,
        cluster.request,
        "GET",
        res.path(name=name, namespace=ns, subresource="log"),
        query=query,
        accept="text/plain, */*",
        raw=True,
        hint=f"containers: {', '.join(names)}; `previous` needs a restarted container",
    )
    text, truncated = truncate_text(data.decode(errors="replace"), cap, keep="tail")
    if truncated and "\n" in text:
        text = text.split("\n", 1)[1]  # drop the partial first line
    if len(data) >= cap * 8:
        truncated = True
    text = redact_text(text)
    return PodLogs(
        pod=name,
        namespace=ns,
        container=container,
        containers=names,
        text=text,
        bytes=len(text.encode()),
        lines=text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        truncated=truncated,
        notes=notes,
    )


class NamespaceInfo(BaseModel):
    name: str
    phase: str | None
    age: str | None
    labels: dict[str, str]


class NamespaceList(BaseModel):
    namespaces: list[NamespaceInfo]
    count: int
    truncated: bool
    continue_token: str | None
    hidden_by_policy: int = 0


async def k8s_namespaces_list(
    ctx: Context[Any, Any],
    label_selector: Annotated[str | None, Field(description="Label selector on namespaces")] = None,
    limit: LimitArg = None,
    continue_token: ContinueArg = None,
    context: ContextArg = None,
) -> NamespaceList:
    """List namespaces with phase, age and labels (only those the namespace policy allows)."""
    kube = _kube(ctx)
    s = kube.settings
    cluster = await kube.cluster(context)
    page = min(limit or s.max_items_limit, s.max_items_limit)
    doc = await _call(
        kube,
        "list namespaces",
        cluster.request,
        "GET",
        "/api/v1/namespaces",
        query={"labelSelector": label_selector, "limit": page, "continue": continue_token},
    )
    out = []
    hidden = 0
    for n in doc.get("items") or []:
        m = meta_of(n)
        if not s.namespace_allowed(m.get("name", "")):
            hidden += 1
            continue
        out.append(
            NamespaceInfo(
                name=m.get("name", ""),
                phase=(n.get("status") or {}).get("phase"),
                age=_age(m.get("creationTimestamp")),
                labels=m.get("labels") or {},
            )
        )
    token = (doc.get("metadata") or {}).get("continue") or None
    return NamespaceList(
        namespaces=out, count=len(out), truncated=token is not None, continue_token=token, hidden_by_policy=hidden
    )


# ---------------------------------------------------------------------------------------------------------
# rollouts (read)

RolloutKind = Literal["deployment", "statefulset", "daemonset"]


class Revision(BaseModel):
    revision: int
    replicaset: str
    images: list[str]
    created: str | None
    replicas: int


class RolloutStatus(BaseModel):
    kind: str
    name: str
    namespace: str
    done: bool = Field(description="True when the rollout completed and all replicas are updated and available")
    failed: bool = Field(description="True when the progress deadline was exceeded")
    message: str
    desired: int | None
    updated: int | None
    ready: int | None
    available: int | None
    revision: int | None = Field(description="Current revision (deployments)")
    revisions: list[Revision] = Field(default_factory=list, description="Rollout history (deployments), newest first")
    conditions: list[Condition] = Field(default_factory=list)
    waited_seconds: float = 0.0


def _rollout_state(kind: str, obj: dict[str, Any]) -> tuple[bool, bool, str, dict[str, int | None]]:
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    gen = meta_of(obj).get("generation") or 0
    observed = st.get("observedGeneration") or 0
    if kind == "DaemonSet":
        desired = st.get("desiredNumberScheduled")
        nums: dict[str, int | None] = {
            "desired": desired,
            "updated": st.get("updatedNumberScheduled"),
            "ready": st.get("numberReady"),
            "available": st.get("numberAvailable"),
        }
    else:
        nums = {
            "desired": spec.get("replicas", 1),
            "updated": st.get("updatedReplicas"),
            "ready": st.get("readyReplicas"),
            "available": st.get("availableReplicas"),
        }
    want = nums["desired"] or 0
    updated, ready, available = nums["updated"] or 0, nums["ready"] or 0, nums["available"] or 0
    if observed < gen:
        return False, False, "waiting for the controller to observe the latest spec", nums
    for c in st.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return False, True, f"rollout exceeded its progress deadline: {c.get('message', '')}", nums
    if updated < want:
        return False, False, f"{updated} of {want} replicas updated", nums
    if kind == "Deployment" and (st.get("replicas") or 0) > updated:
        return False, False, f"{(st.get('replicas') or 0) - updated} old replicas pending termination", nums
    new_rev = st.get("updateRevision")
    if kind == "StatefulSet" and new_rev and st.get("currentRevision") != new_rev and ready < want:
        return False, False, f"{ready} of {want} replicas ready on the new revision", nums
    if (available if kind != "StatefulSet" else ready) < want:
        return False, False, f"{available} of {want} updated replicas available", nums
    return True, False, f"successfully rolled out ({want} replicas)", nums


async def _history(kube: Kube, cluster: Cluster, dep: dict[str, Any], ns: str) -> list[tuple[Revision, dict[str, Any]]]:
    labels = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    sel = ",".join(f"{k}={v}" for k, v in labels.items())
    doc = await _call(
        kube,
        "list replicasets",
        cluster.request,
        "GET",
        f"/apis/apps/v1/namespaces/{ns}/replicasets",
        query={"labelSelector": sel or None, "limit": 500},
    )
    uid = meta_of(dep).get("uid")
    out = []
    for rs in doc.get("items") or []:
        m = meta_of(rs)
        if not any(o.get("uid") == uid for o in m.get("ownerReferences") or []):
            continue
        try:
            rev = int((m.get("annotations") or {}).get(REVISION, "0"))
        except ValueError:
            continue
        tmpl = (rs.get("spec") or {}).get("template") or {}
        images = [c.get("image", "") for c in (tmpl.get("spec") or {}).get("containers") or []]
        out.append(
            (
                Revision(
                    revision=rev,
                    replicaset=m.get("name", ""),
                    images=images,
                    created=m.get("creationTimestamp"),
                    replicas=(rs.get("status") or {}).get("replicas") or 0,
                ),
                rs,
            )
        )
    return sorted(out, key=lambda x: x[0].revision, reverse=True)


_KINDS: dict[str, str] = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}


async def k8s_rollout_status(
    ctx: Context[Any, Any],
    name: Annotated[str, Field(description="Workload name")],
    namespace: NamespaceArg = None,
    kind: Annotated[RolloutKind, Field(description="Workload kind")] = "deployment",
    wait_seconds: Annotated[
        int, Field(ge=0, le=300, description="Poll until the rollout is done or failed, up to this many seconds")
    ] = 0,
    context: ContextArg = None,
) -> RolloutStatus:
    """Rollout status of a deployment, statefulset or daemonset (like `kubectl rollout status`), with history."""
    kube = _kube(ctx)
    action = f"get rollout status of {kind} {name}"
    cluster, res, ns = await _target(kube, context, f"{kind}s", "apps/v1", namespace, action)
    assert ns is not None
    start = time.monotonic()
    while True:
        obj = await _get_object(kube, cluster, res, name, ns, action)
        done, failed, message, nums = _rollout_state(_KINDS[kind], obj)
        waited = time.monotonic() - start
        if done or failed or waited >= wait_seconds:
            break
        await anyio.sleep(min(1.0, wait_seconds - waited))
    history = await _history(kube, cluster, obj, ns) if kind == "deployment" else []
    rev = (meta_of(obj).get("annotations") or {}).get(REVISION)
    return RolloutStatus(
        kind=_KINDS[kind],
        name=name,
        namespace=ns,
        done=done,
        failed=failed,
        message=message,
        desired=nums["desired"],
        updated=nums["updated"],
        ready=nums["ready"],
        available=nums["available"],
        revision=int(rev) if rev and rev.isdigit() else None,
        revisions=[h for h, _ in history][:20],
        conditions=[
            Condition(
                type=str(c.get("type")),
                status=str(c.get("status")),
                reason=c.get("reason"),
                message=c.get("message"),
                last_transition=c.get("lastTransitionTime"),
            )
            for c in (obj.get("status") or {}).get("conditions") or []
        ],
        waited_seconds=round(time.monotonic() - start, 2),
    )


# ---------------------------------------------------------------------------------------------------------
# writes


class AppliedObject(BaseModel):
    kind: str
    api_version: str
    name: str
    namespace: str | None
    action: Literal["created", "configured", "unchanged"] = Field(
        description="What the apply does (dry run) or did to the live object"
    )
    diff: str = Field(description="Unified YAML diff live -> applied (secrets redacted); empty when unchanged")
    diff_truncated: bool


class ApplyResult(BaseModel):
    dry_run: bool = Field(description="True: nothing was changed; call again with dry_run=false to apply")
    applied: bool
    objects: list[AppliedObject]
    count: int
    truncated: bool = Field(description="True when diffs were cut to fit the byte cap")


def _parse_manifest(manifest: str) -> list[dict[str, Any]]:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(manifest) if d is not None]
    except yaml.YAMLError as exc:
        raise tool_error("parse the manifest", f"invalid YAML: {exc}", hint="pass YAML or JSON documents") from exc
    out: list[dict[str, Any]] = []
    for d in docs:
        if isinstance(d, dict) and str(d.get("kind", "")).endswith("List") and isinstance(d.get("items"), list):
            out += [i for i in d["items"] if isinstance(i, dict)]
        elif isinstance(d, dict):
            out.append(d)
        else:
            raise tool_error("parse the manifest", "every document must be a mapping with apiVersion and kind")
    if not out:
        raise tool_error("parse the manifest", "the manifest has no objects")
    if len(out) > 100:
        raise tool_error("parse the manifest", f"{len(out)} objects; at most 100 per call", hint="split the manifest")
    for i, d in enumerate(out):
        if not d.get("apiVersion") or not d.get("kind") or not meta_of(d).get("name"):
            raise tool_error(
                "parse the manifest",
                f"object #{i + 1} lacks apiVersion, kind or metadata.name",
                hint="generateName is not supported by apply",
            )
    return out


async def k8s_apply(
    ctx: Context[Any, Any],
    manifest: Annotated[str, Field(description="One or more YAML/JSON documents (--- separated), or a List")],
    namespace: NamespaceArg = None,
    dry_run: Annotated[
        bool,
        Field(description="true (default): server-side dry run + diff only; false: apply for real after the dry run"),
    ] = True,
    force: Annotated[bool, Field(description="Take ownership of fields owned by other field managers")] = False,
    context: ContextArg = None,
) -> ApplyResult:
    """Apply manifests with server-side apply: always a server-side dry run and a diff against the live objects first.

    With dry_run=true (default) nothing changes: review the diff, then call again with dry_run=false.
    Every object is checked against the namespace and kind policy before anything is sent.
    """
    kube = _kube(ctx)
    docs = _parse_manifest(manifest)
    cluster = await kube.cluster(context)
    plans: list[tuple[ApiResource, dict[str, Any], str, str | None]] = []
    for d in docs:
        label = f"{d['kind']} {meta_of(d)['name']}"
        res: ApiResource = await _call(kube, f"apply {label}", cluster.resolve, str(d["kind"]), str(d["apiVersion"]))
        _guard_kind(kube, res, f"apply {label}")
        ns: str | None = None
        if res.namespaced:
            ns = meta_of(d).get("namespace") or namespace or cluster.default_namespace
            _guard_namespace(kube, ns, f"apply {label}")
            d = {**d, "metadata": {**meta_of(d), "namespace": ns}}
        elif res.kind == "Namespace" and res.group == "":
            _guard_namespace(kube, meta_of(d)["name"], f"apply {label}")
        plans.append((res, d, meta_of(d)["name"], ns))

    def apply_one(res: ApiResource, body: dict[str, Any], name: str, ns: str | None, dry: bool) -> Any:
        return cluster.request(
            "PATCH",
            res.path(name=name, namespace=ns),
            body=body,
            content_type="application/apply-patch+yaml",
            query={
                "fieldManager": kube.settings.field_manager,
                "force": force or None,
                "dryRun": "All" if dry else None,
            },
        )

    results: list[AppliedObject] = []
    budget = kube.settings.max_bytes
    truncated = False
    for res, body, name, ns in plans:
        label = f"{res.kind} {name}"
        try:
            live: dict[str, Any] | None = await kube.backend.run_sync(
                cluster.request, "GET", res.path(name=name, namespace=ns)
            )
        except KubeApiError as exc:
            if exc.status != 404:
                raise translate(exc, f"read live {label}") from exc
            live = None
        except Exception as exc:
            raise translate(exc, f"read live {label}") from exc
        dry = await _call(
            kube,
            f"dry-run apply {label}",
            apply_one,
            res,
            body,
            name,
            ns,
            True,
            hint="a 409 conflict means another field manager owns the fields: retry with force=true",
        )
        old, new = comparable(live), comparable(dry)
        if new is not None and (is_secret(new) or (old is not None and is_secret(old))):
            old, new = redact_secret_pair(old, new)
        else:
            reveal = kube.settings.reveal_secrets
            old = redact_object(old, reveal_secrets=reveal) if old is not None else None
            new = redact_object(new, reveal_secrets=reveal)
        diff = unified_diff(old, new, f"{res.qualified}/{name}")
        action: Literal["created", "configured", "unchanged"] = (
            "created" if live is None else ("configured" if diff else "unchanged")
        )
        text, cut = truncate_text(diff, max(budget, 0), keep="head")
        budget -= len(text.encode())
        truncated = truncated or cut
        results.append(
            AppliedObject(
                kind=res.kind,
                api_version=res.api_version,
                name=name,
                namespace=ns,
                action=action,
                diff=text,
                diff_truncated=cut,
            )
        )
    if not dry_run:
        for res, body, name, ns in plans:
            await _call(kube, f"apply {res.kind} {name}", apply_one, res, body, name, ns, False)
    return ApplyResult(dry_run=dry_run, applied=not dry_run, objects=results, count=len(results), truncated=truncated)


class DeleteResult(BaseModel):
    kind: str
    name: str
    namespace: str | None
    dry_run: bool
    status: str = Field(description="Success, or Terminating when finalizers/propagation keep it for a while")


async def k8s_resource_delete(
    ctx: Context[Any, Any],
    kind: KindArg,
    name: Annotated[str, Field(description="Object name")],
    namespace: NamespaceArg = None,
    propagation: Annotated[
        Literal["Background", "Foreground", "Orphan"],
        Field(description="What happens to dependents (pods of a deployment, ...)"),
    ] = "Background",
    grace_period_seconds: Annotated[int | None, Field(ge=0, description="Grace period (0: immediately)")] = None,
    dry_run: Annotated[bool, Field(description="Ask the server to validate the delete without doing it")] = False,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> DeleteResult:
    """Delete one object of any kind by name (destructive)."""
    kube = _kube(ctx)
    action = f"delete {kind} {name}"
    cluster, res, ns = await _target(kube, context, kind, api_version, namespace, action, name=name)
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
    if grace_period_seconds is not None:
        body["gracePeriodSeconds"] = grace_period_seconds
    if dry_run:  # with a DeleteOptions body the server reads options from the body only, not the query
        body["dryRun"] = ["All"]
    doc = await _call(
        kube,
        action,
        cluster.request,
        "DELETE",
        res.path(name=name, namespace=ns),
        body=body,
        query={"dryRun": "All" if dry_run else None},
    )
    status = "Success"
    if doc.get("kind") != "Status" and (meta_of(doc).get("deletionTimestamp") or meta_of(doc).get("finalizers")):
        status = "Terminating"
    return DeleteResult(kind=res.kind, name=name, namespace=ns, dry_run=dry_run, status=status)


class ScaleResult(BaseModel):
    kind: str
    name: str
    namespace: str | None
    previous_replicas: int | None
    replicas: int


async def k8s_scale(
    ctx: Context[Any, Any],
    name: Annotated[str, Field(description="Object name")],
    replicas: Annotated[int, Field(ge=0, le=10_000, description="Desired replicas")],
    kind: Annotated[
        str, Field(description="Any kind with a scale subresource: deployment, statefulset, replicaset, CRDs")
    ] = "deployment",
    namespace: NamespaceArg = None,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> ScaleResult:
    """Set the replica count through the scale subresource; follow with k8s_rollout_status to watch it converge."""
    kube = _kube(ctx)
    action = f"scale {kind} {name}"
    cluster, res, ns = await _target(kube, context, kind, api_version, namespace, action, name=name)
    if "scale" not in res.subresources:
        raise tool_error(action, f"{res.qualified} has no scale subresource", code="MethodNotSupported")
    path = res.path(name=name, namespace=ns, subresource="scale")
    before = await _call(kube, action, cluster.request, "GET", path)
    await _call(
        kube,
        action,
        cluster.request,
        "PATCH",
        path,
        body={"spec": {"replicas": replicas}},
        content_type="application/merge-patch+json",
    )
    return ScaleResult(
        kind=res.kind,
        name=name,
        namespace=ns,
        previous_replicas=(before.get("spec") or {}).get("replicas"),
        replicas=replicas,
    )


class RestartResult(BaseModel):
    kind: str
    name: str
    namespace: str
    restarted_at: str


async def k8s_rollout_restart(
    ctx: Context[Any, Any],
    name: Annotated[str, Field(description="Workload name")],
    namespace: NamespaceArg = None,
    kind: Annotated[RolloutKind, Field(description="Workload kind")] = "deployment",
    context: ContextArg = None,
) -> RestartResult:
    """Restart a workload's pods with a rolling update (like `kubectl rollout restart`)."""
    kube = _kube(ctx)
    action = f"restart {kind} {name}"
    cluster, res, ns = await _target(kube, context, f"{kind}s", "apps/v1", namespace, action)
    assert ns is not None
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    await _call(
        kube,
        action,
        cluster.request,
        "PATCH",
        res.path(name=name, namespace=ns),
        body=patch,
        content_type="application/merge-patch+json",
    )
    return RestartResult(kind=_KINDS[kind], name=name, namespace=ns, restarted_at=now)


class UndoResult(BaseModel):
    name: str
    namespace: str
    from_revision: int | None
    to_revision: int
    replicaset: str
    images: list[str]


async def k8s_rollout_undo(
    ctx: Context[Any, Any],
    name: Annotated[str, Field(description="Deployment name")],
    namespace: NamespaceArg = None,
    to_revision: Annotated[
        int | None, Field(ge=1, description="Revision to roll back to (default: the previous one)")
    ] = None,
    context: ContextArg = None,
) -> UndoResult:
    """Roll a deployment back to a previous revision (like `kubectl rollout undo`); revisions: k8s_rollout_status."""
    kube = _kube(ctx)
    action = f"undo rollout of deployment {name}"
    cluster, res, ns = await _target(kube, context, "deployments", "apps/v1", namespace, action)
    assert ns is not None
    dep = await _get_object(kube, cluster, res, name, ns, action)
    history = await _history(kube, cluster, dep, ns)
    cur = (meta_of(dep).get("annotations") or {}).get(REVISION)
    current = int(cur) if cur and cur.isdigit() else None
    if to_revision is None:
        candidates = [h for h in history if h[0].revision != current]
        if not candidates:
            raise tool_error(action, "no previous revision to roll back to", code="NotFound")
        target = candidates[0]
    else:
        found = [h for h in history if h[0].revision == to_revision]
        if not found:
            raise tool_error(
                action,
                f"revision {to_revision} not found",
                code="NotFound",
                hint=f"known revisions: {[h[0].revision for h in history]}",
            )
        target = found[0]
    rev, rs = target
    tmpl = json.loads(json.dumps((rs.get("spec") or {}).get("template") or {}))
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    ops = [{"op": "replace", "path": "/spec/template", "value": tmpl}]
    await _call(
        kube,
        action,
        cluster.request,
        "PATCH",
        res.path(name=name, namespace=ns),
        body=ops,
        content_type="application/json-patch+json",
    )
    return UndoResult(
        name=name,
        namespace=ns,
        from_revision=current,
        to_revision=rev.revision,
        replicaset=rev.replicaset,
        images=rev.images,
    )


class CordonResult(BaseModel):
    node: str
    unschedulable: bool
    changed: bool


async def _cordon(ctx: Context[Any, Any], node: str, context: str | None, value: bool) -> CordonResult:
    kube = _kube(ctx)
    action = f"{'cordon' if value else 'uncordon'} node {node}"
    cluster, res, _ = await _target(kube, context, "nodes", "v1", None, action)
    obj = await _get_object(kube, cluster, res, node, None, action)
    was = bool((obj.get("spec") or {}).get("unschedulable"))
    if was != value:
        await _call(
            kube,
            action,
            cluster.request,
            "PATCH",
            res.path(name=node),
            body={"spec": {"unschedulable": value or None}},
            content_type="application/merge-patch+json",
        )
    return CordonResult(node=node, unschedulable=value, changed=was != value)


async def k8s_node_cordon(
    ctx: Context[Any, Any],
    node: Annotated[str, Field(description="Node name")],
    context: ContextArg = None,
) -> CordonResult:
    """Mark a node unschedulable (cordon): running pods stay, new pods are not placed on it."""
    return await _cordon(ctx, node, context, True)


async def k8s_node_uncordon(
    ctx: Context[Any, Any],
    node: Annotated[str, Field(description="Node name")],
    context: ContextArg = None,
) -> CordonResult:
    """Mark a node schedulable again (uncordon)."""
    return await _cordon(ctx, node, context, False)


_RO = READ_OPEN
TOOLS = [
    ToolSpec(k8s_contexts_list, "contexts_list", "List kubeconfig contexts", _RO),
    ToolSpec(k8s_api_resources, "api_resources", "Discover API resource types (incl. CRDs)", _RO),
    ToolSpec(k8s_resources_list, "resources_list", "List objects of any kind", _RO),
    ToolSpec(k8s_resource_get, "resource_get", "Get one object", _RO),
    ToolSpec(k8s_resource_describe, "resource_describe", "Describe an object with its events", _RO),
    ToolSpec(k8s_events_list, "events_list", "List events", _RO),
    ToolSpec(k8s_pod_logs, "pod_logs", "Read pod logs", _RO),
    ToolSpec(k8s_namespaces_list, "namespaces_list", "List namespaces", _RO),
    ToolSpec(k8s_rollout_status, "rollout_status", "Rollout status and history", _RO),
    ToolSpec(k8s_apply, "apply", "Server-side apply manifests (dry run + diff first)", open_world(WRITE_IDEMPOTENT)),
    ToolSpec(k8s_resource_delete, "resource_delete", "Delete an object", open_world(DESTRUCTIVE)),
    ToolSpec(k8s_scale, "scale", "Scale a workload", open_world(WRITE_IDEMPOTENT)),
    ToolSpec(k8s_rollout_restart, "rollout_restart", "Restart a workload's pods", open_world(WRITE)),
    ToolSpec(k8s_rollout_undo, "rollout_undo", "Roll a deployment back", open_world(WRITE)),
    ToolSpec(k8s_node_cordon, "node_cordon", "Cordon a node", open_world(WRITE_IDEMPOTENT)),
    ToolSpec(k8s_node_uncordon, "node_uncordon", "Uncordon a node", open_world(WRITE_IDEMPOTENT)),
]
