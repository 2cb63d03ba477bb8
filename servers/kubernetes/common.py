"""Shared pieces of the kubernetes tools: parameter types, the state lookup, policy guards, request helpers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, Field

from servers._common import tool_error
from servers._common.paging import page_limit
from servers._common.state import StateOf
from servers.kubernetes.client import ApiResource, Cluster, Kube, KubeApiError, api_error, translate
from servers.kubernetes.names import check_namespace, check_segment_name
from servers.kubernetes.shaping import UNKNOWN_KIND, meta_of, redact_object, strip

KEY = "kubernetes"
MERGE_PATCH = "application/merge-patch+json"

ContextArg = str | None  # a kubeconfig context (default: the current one; see k8s_contexts_list)
KindArg = Annotated[
    str,
    Field(description="Kind, plural or short name, e.g. deploy"),
]
ApiVersionArg = Annotated[str | None, Field(description="e.g. apps/v1")]
NamespaceArg = str | None  # default: the context's namespace
NameArg = str
Limit = Annotated[
    int | None, page_limit(50, "the server setting")
]  # page size (default 50, capped by the server setting)
ContinueArg = str | None  # the previous page's continue_token


state_of = StateOf(KEY, Kube)
"""The module's lifespan object for a tool call."""


async def call(kube: Kube, action: str, fn: Any, *args: Any, hint: str | None = None, **kwargs: Any) -> Any:
    """Run a blocking cluster call in a worker thread; every failure becomes a ToolError."""
    try:
        return await kube.backend.run_sync(fn, *args, **kwargs)
    except KubeApiError as exc:
        raise api_error(exc, action, hint) from exc
    except Exception as exc:
        raise translate(exc, action) from exc


def continue_of(doc: dict[str, Any]) -> str | None:
    """The server's continue token of a list answer (None on the last page)."""
    token: str | None = (doc.get("metadata") or {}).get("continue") or None
    return token


# ---------------------------------------------------------------------------------------------------------
# policy


def guard_kind(kube: Kube, res: ApiResource, action: str) -> None:
    if kube.settings.kind_denied(res.kind, res.plural, res.group):
        raise tool_error(
            action,
            f"refused: kind {res.kind} ({res.qualified}) is in the denied kinds",
            code="Forbidden by policy",
            hint="the server's BAM_K8S_DENIED_KINDS setting blocks it on every call",
        )


def guard_namespace(kube: Kube, namespace: str, action: str) -> None:
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


def is_namespace_kind(res: ApiResource) -> bool:
    """core/v1 Namespace: its objects fall under the namespace policy by their own name."""
    return res.kind == "Namespace" and res.group == ""


def allowed_returned(kube: Kube, cluster: Cluster, obj: dict[str, Any], res: ApiResource | None = None) -> bool:
    """Whether a RETURNED object passes the kind and namespace policy, judged by its own kind and namespace.

    `res` stands in for the kind of objects that carry none of their own (Table rows, kind-less items)."""
    kind = obj.get("kind")
    if isinstance(kind, str) and kind and kind not in ("PartialObjectMetadata", UNKNOWN_KIND):
        known = cluster.known(str(obj.get("apiVersion") or ""), kind)
        group = known.group if known else str(obj.get("apiVersion") or "").rpartition("/")[0]
        if kube.settings.kind_denied(kind, known.plural if known else "", group):
            return False
        is_ns = kind == "Namespace" and group == ""
    elif res is not None:
        if kube.settings.kind_denied(res.kind, res.plural, res.group):
            return False
        is_ns = is_namespace_kind(res)
    else:
        is_ns = False
    m = meta_of(obj)
    ns, name = m.get("namespace"), m.get("name")
    if isinstance(ns, str) and ns and not kube.settings.namespace_allowed(ns):
        return False
    return not (is_ns and isinstance(name, str) and not kube.settings.namespace_allowed(name))


def check_returned(
    kube: Kube, cluster: Cluster, res: ApiResource, obj: Any, name: str, ns: str | None, action: str
) -> dict[str, Any]:
    """The object a GET returned, refused unless it is the one asked for and the policy allows it."""
    m = meta_of(obj) if isinstance(obj, dict) else {}
    got_kind = obj.get("kind") if isinstance(obj, dict) else None
    if (
        not isinstance(obj, dict)
        or got_kind not in (None, res.kind)
        or m.get("name") != name
        or (res.namespaced and ns is not None and m.get("namespace") != ns)
    ):
        raise tool_error(
            action,
            f"refused: the API server answered with {got_kind or 'an object'} {m.get('name')!r}, "
            f"not {res.kind} {name!r}",
            code="Forbidden by policy",
            hint="pass the object's exact name (see k8s_resources_list output=names)",
        )
    if not allowed_returned(kube, cluster, obj, res):
        raise tool_error(
            action,
            f"refused: the returned {got_kind or res.kind} is outside the kind/namespace policy",
            code="Forbidden by policy",
            hint="BAM_K8S_DENIED_KINDS / BAM_K8S_ALLOWED_NAMESPACES / BAM_K8S_DENIED_NAMESPACES decide it",
        )
    return obj


async def target(
    kube: Kube,
    context: str | None,
    kind: str,
    api_version: str | None,
    namespace: str | None,
    action: str,
    *,
    name: str | None = None,
    all_namespaces: bool = False,
) -> tuple[Cluster, ApiResource, str | None]:
    """Validate the identifiers, resolve the context and kind, apply the policy, return the namespace to use.

    `namespace` and `name` are checked by the API's naming rules before any request (the name again by its
    kind's own rule once the kind is known). The namespace is None for cluster-scoped kinds and with
    `all_namespaces` (whose objects the caller filters with `allowed_returned`).
    """
    if namespace is not None:
        check_namespace(namespace)
    if name is not None:
        check_segment_name(name)
    cluster = await kube.cluster(context)
    res: ApiResource = await call(kube, "discover API resources", cluster.resolve, kind, api_version)
    guard_kind(kube, res, action)
    if name is not None:
        res.check_name(name)
    if all_namespaces:
        return cluster, res, None
    ns = check_namespace(namespace or cluster.default_namespace) if res.namespaced else None
    if ns is not None:
        guard_namespace(kube, ns, action)
    elif is_namespace_kind(res) and name:
        guard_namespace(kube, name, action)
    return cluster, res, ns


async def named_target(
    kube: Kube, verb: str, kind: str, name: str, namespace: str | None, api_version: str | None, context: str | None
) -> tuple[str, Cluster, ApiResource, str | None]:
    """`target` for the one object a tool's arguments name, with the action "<verb> <kind> <name>"."""
    action = f"{verb} {kind} {name}"
    cluster, res, ns = await target(kube, context, kind, api_version, namespace, action, name=name)
    return action, cluster, res, ns


async def namespaced_target(
    kube: Kube,
    context: str | None,
    kind: str,
    api_version: str,
    namespace: str | None,
    action: str,
    *,
    name: str | None = None,
) -> tuple[Cluster, ApiResource, str]:
    """`target` for a kind known to be namespaced (pods, workloads)."""
    cluster, res, ns = await target(kube, context, kind, api_version, namespace, action, name=name)
    assert ns is not None, f"{kind} is namespaced"
    return cluster, res, ns


# ---------------------------------------------------------------------------------------------------------
# requests and shaping


async def get_object(
    kube: Kube, cluster: Cluster, res: ApiResource, name: str, ns: str | None, action: str
) -> dict[str, Any]:
    """GET one object; refused unless the answer is that object and the policy allows it."""
    obj = await call(kube, action, cluster.request, "GET", res.path(name=name, namespace=ns))
    return check_returned(kube, cluster, res, obj, name, ns, action)


async def patch(
    kube: Kube, cluster: Cluster, action: str, path: str, body: Any, content_type: str = MERGE_PATCH
) -> Any:
    """PATCH `path` (a merge patch unless `content_type` says otherwise)."""
    return await call(kube, action, cluster.request, "PATCH", path, body=body, content_type=content_type)


EVENTS = ApiResource("", "v1", "Event", "events", "event", True, ("list",))


def events_path(ns: str | None) -> str:
    """core/v1 events of one namespace, or of all namespaces when `ns` is None."""
    return EVENTS.path(namespace=ns)


def shape(kube: Kube, obj: dict[str, Any]) -> dict[str, Any]:
    """A returned object (or list) fit for output: noise stripped, redacted by its OWN kind."""
    shaped: dict[str, Any] = redact_object(strip(obj), reveal_secrets=kube.settings.reveal_secrets)
    return shaped


def age_of(ts: str | None) -> str | None:
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


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition: str | None = None


def conditions_of(obj: dict[str, Any]) -> list[Condition]:
    """`status.conditions` of an object (entries without a type are skipped)."""
    status = obj.get("status")
    raw = status.get("conditions") or [] if isinstance(status, dict) else []
    return [
        Condition(
            type=str(c["type"]),
            status=str(c.get("status", "")),
            reason=c.get("reason"),
            message=c.get("message"),
            last_transition=c.get("lastTransitionTime"),
        )
        for c in raw
        if isinstance(c, dict) and c.get("type")
    ]
