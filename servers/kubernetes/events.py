"""Events: the events list tool, and the related events that k8s_resource_describe shows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import redact_output
from servers._common.paging import page_size
from servers._common.tools import READ_OPEN, tool
from servers.kubernetes.client import ApiResource, Cluster, Kube
from servers.kubernetes.common import (
    EVENTS,
    ContextArg,
    ContinueArg,
    Limit,
    NamespaceArg,
    call,
    continue_of,
    events_path,
    guard_kind,
    guard_namespace,
    state_of,
)
from servers.kubernetes.names import (
    check_kind_name,
    check_namespace,
    check_segment_name,
    check_short_text,
    field_value,
)
from servers.kubernetes.shaping import meta_of, redact_string


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


def event_info(e: dict[str, Any]) -> EventInfo:
    """A core/v1 (or events.k8s.io) event, message redacted."""
    inv = e.get("involvedObject") or e.get("regarding") or {}
    src = e.get("source") or {}
    m = meta_of(e)
    last = e.get("lastTimestamp") or e.get("eventTime") or m.get("creationTimestamp")
    return EventInfo(
        namespace=m.get("namespace"),
        type=e.get("type"),
        reason=e.get("reason"),
        object=f"{inv.get('kind', '?')}/{inv.get('name', '?')}",
        message=redact_output(redact_string(str(e.get("message") or e.get("note") or ""))) or None,
        count=e.get("count"),
        first_seen=e.get("firstTimestamp") or e.get("eventTime"),
        last_seen=last,
        source=src.get("component") or e.get("reportingComponent") or e.get("reportingController"),
    )


def newest_first(events: list[EventInfo]) -> list[EventInfo]:
    return sorted(events, key=lambda e: e.last_seen or "", reverse=True)


async def related_events(
    kube: Kube, cluster: Cluster, res: ApiResource, ns: str | None, name: str, uid: str, limit: int
) -> tuple[list[EventInfo], bool]:
    """The `limit` newest events about one object, and whether there were more."""
    selector = f"involvedObject.uid={field_value(uid)}"
    if res.kind == "Node" and res.group == "":  # node events carry the node name as uid, or the real one
        selector = f"involvedObject.kind=Node,involvedObject.name={field_value(name)}"
    doc = await call(
        kube,
        "list related events",
        cluster.request,
        "GET",
        events_path(ns),
        query={"fieldSelector": selector, "limit": 500},
    )
    events = newest_first([event_info(e) for e in doc.get("items") or []])
    more = len(events) > limit or continue_of(doc) is not None
    return events[:limit], more


def _check_event_filters(namespace: str | None, kind: str | None, name: str | None, reason: str | None) -> None:
    """Every filter by the API's rules before any request (they become a field selector, escaped)."""
    if namespace is not None:
        check_namespace(namespace)
    if kind is not None:
        check_kind_name(kind)
    if name is not None:
        check_segment_name(name)
    if reason is not None:
        check_short_text(reason, "reason")


class EventList(BaseModel):
    events: list[EventInfo] = Field(description="Events of this page, newest first")
    count: int
    truncated: bool
    continue_token: str | None
    hidden_by_policy: int = 0


@tool("List events", READ_OPEN)
async def k8s_events_list(
    ctx: Context[Any, Any],
    namespace: NamespaceArg = None,
    all_namespaces: bool = False,
    kind: Annotated[str | None, Field(description="Only events about this Kind, e.g. Pod")] = None,
    name: Annotated[str | None, Field(description="Only events about this object name")] = None,
    type: Annotated[Literal["Normal", "Warning"] | None, Field(description="Only Normal or Warning events")] = None,
    reason: Annotated[str | None, Field(description="Only this reason, e.g. BackOff, FailedScheduling")] = None,
    limit: Limit = None,
    continue_token: ContinueArg = None,
    context: ContextArg = None,
) -> EventList:
    """List events of a namespace (or all), e.g. to see why a pod fails."""
    kube = state_of(ctx)
    _check_event_filters(namespace, kind, name, reason)
    cluster = await kube.cluster(context)
    guard_kind(kube, EVENTS, "list events")
    ns = None if all_namespaces else check_namespace(namespace or cluster.default_namespace)
    if ns is not None:
        guard_namespace(kube, ns, "list events")
    fields = {"involvedObject.kind": kind, "involvedObject.name": name, "type": type, "reason": reason}
    selector = ",".join(f"{k}={field_value(v)}" for k, v in fields.items() if v is not None)
    doc = await call(
        kube,
        "list events",
        cluster.request,
        "GET",
        events_path(ns),
        query={"fieldSelector": selector or None, "limit": page_size(kube.settings, limit), "continue": continue_token},
    )
    hidden = 0
    events = []
    for e in doc.get("items") or []:
        ev = event_info(e)
        if ev.namespace and not kube.settings.namespace_allowed(ev.namespace):
            hidden += 1
            continue
        events.append(ev)
    token = continue_of(doc)
    return EventList(
        events=newest_first(events),
        count=len(events),
        truncated=token is not None,
        continue_token=token,
        hidden_by_policy=hidden,
    )
