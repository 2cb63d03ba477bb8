"""Discovery tools: kubeconfig contexts, the API resource types the cluster serves (CRDs too), namespaces."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common.paging import items_page, page_size
from servers._common.tools import READ_OPEN, tool
from servers.kubernetes.client import ApiResource
from servers.kubernetes.common import ContextArg, ContinueArg, Limit, age_of, call, continue_of, state_of
from servers.kubernetes.shaping import meta_of


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
    count: int = Field(description="Contexts in this page")
    total: int = Field(description="Contexts matching `search` in the kubeconfig")
    truncated: bool = Field(description="True when more contexts exist: call again with offset=next_offset")
    next_offset: int | None


@tool("List kubeconfig contexts", READ_OPEN)
async def k8s_contexts_list(
    ctx: Context[Any, Any],
    search: Annotated[str | None, Field(description="Substring of name, cluster or user")] = None,
    limit: Limit = None,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> ContextList:
    """List kubeconfig contexts (cluster, user, namespace) and which ones tools may use."""
    kube = state_of(ctx)
    clients = await kube.backend.get()
    current = kube.settings.context or clients.current
    out = []
    needle = (search or "").lower()
    for c in clients.contexts:
        body = c.get("context") or {}
        info = ContextInfo(
            name=c["name"],
            cluster=body.get("cluster"),
            user=body.get("user"),
            namespace=body.get("namespace"),
            current=c["name"] == current,
            allowed=kube.settings.context_allowed(c["name"]),
        )
        if needle and not any(needle in (v or "").lower() for v in (info.name, info.cluster, info.user)):
            continue
        out.append(info)
    kept, page = items_page(kube.settings, out, offset, limit)
    return ContextList(contexts=kept, current=current, in_cluster=clients.in_cluster, **page)


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


def _matches(r: ApiResource, search: str, group: str | None, namespaced: bool | None, all_versions: bool) -> bool:
    if not all_versions and not r.preferred:
        return False
    if group is not None and r.group != group:
        return False
    if namespaced is not None and r.namespaced != namespaced:
        return False
    return not search or any(search in x.lower() for x in (r.kind, r.plural, r.group, *r.short_names))


@tool("Discover API resource types (incl. CRDs)", READ_OPEN)
async def k8s_api_resources(
    ctx: Context[Any, Any],
    context: ContextArg = None,
    search: Annotated[str | None, Field(description="Substring of kind, plural, short name or group")] = None,
    group: Annotated[str | None, Field(description="Only this API group ('core' for core)")] = None,
    namespaced: Annotated[bool | None, Field(description="true: namespaced; false: cluster-scoped")] = None,
    all_versions: Annotated[bool, Field(description="Include non-preferred versions")] = False,
    refresh: Annotated[bool, Field(description="Bypass the discovery cache")] = False,
    limit: Annotated[int, Field(ge=1, le=1000)] = 200,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> ApiResourceList:
    """List the resource types the cluster serves, CRDs included (like `kubectl api-resources`)."""
    kube = state_of(ctx)
    cluster = await kube.cluster(context)
    resources: list[ApiResource] = await call(kube, "discover API resources", cluster.resources, refresh)
    want_group = "" if group in ("core", "") else group
    s = (search or "").lower()
    picked = [r for r in resources if _matches(r, s, want_group, namespaced, all_versions)]
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


@tool("List namespaces", READ_OPEN)
async def k8s_namespaces_list(
    ctx: Context[Any, Any],
    label_selector: Annotated[str | None, Field(description="Label selector on namespaces")] = None,
    limit: Limit = None,
    continue_token: ContinueArg = None,
    context: ContextArg = None,
) -> NamespaceList:
    """List the namespaces the policy allows, with phase, age and labels."""
    kube = state_of(ctx)
    cluster = await kube.cluster(context)
    page = page_size(kube.settings, limit, default=kube.settings.max_items_limit)
    doc = await call(
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
        if not kube.settings.namespace_allowed(m.get("name", "")):
            hidden += 1
            continue
        out.append(
            NamespaceInfo(
                name=m.get("name", ""),
                phase=(n.get("status") or {}).get("phase"),
                age=age_of(m.get("creationTimestamp")),
                labels=m.get("labels") or {},
            )
        )
    token = continue_of(doc)
    return NamespaceList(
        namespaces=out, count=len(out), truncated=token is not None, continue_token=token, hidden_by_policy=hidden
    )
