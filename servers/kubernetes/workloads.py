"""Workloads: scale (any kind with a scale subresource) and rollouts (status with history, restart, undo)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers._common.tools import DISRUPT, OVERWRITE, READ_OPEN, open_world, tool
from servers.kubernetes.client import Cluster, Kube
from servers.kubernetes.common import (
    ApiVersionArg,
    Condition,
    ContextArg,
    NameArg,
    NamespaceArg,
    call,
    conditions_of,
    get_object,
    named_target,
    namespaced_target,
    patch,
    state_of,
)
from servers.kubernetes.names import api_path
from servers.kubernetes.shaping import meta_of

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

RolloutKind = Literal["deployment", "statefulset", "daemonset"]
_KINDS: dict[str, str] = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}

WorkloadName = str
WorkloadKind = RolloutKind


def _revision(obj: dict[str, Any]) -> int | None:
    """The deployment revision annotation of an object, as a number."""
    rev = (meta_of(obj).get("annotations") or {}).get(REVISION)
    return int(rev) if rev and rev.isdigit() else None


# ---------------------------------------------------------------------------------------------------------
# scale


class ScaleResult(BaseModel):
    kind: str
    name: str
    namespace: str | None
    previous_replicas: int | None
    replicas: int


@tool("Scale a workload", open_world(OVERWRITE))
async def k8s_scale(
    ctx: Context[Any, Any],
    name: NameArg,
    replicas: Annotated[int, Field(ge=0, le=10_000)],
    kind: Annotated[str, Field(description="A kind with a scale subresource")] = "deployment",
    namespace: NamespaceArg = None,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> ScaleResult:
    """Set the replica count through the scale subresource; follow with k8s_rollout_status to watch it converge."""
    kube = state_of(ctx)
    action, cluster, res, ns = await named_target(kube, "scale", kind, name, namespace, api_version, context)
    if "scale" not in res.subresources:
        raise tool_error(action, f"{res.qualified} has no scale subresource", code="MethodNotSupported")
    path = res.path(name=name, namespace=ns, subresource="scale")
    before = await call(kube, action, cluster.request, "GET", path)
    await patch(kube, cluster, action, path, {"spec": {"replicas": replicas}})
    return ScaleResult(
        kind=res.kind,
        name=name,
        namespace=ns,
        previous_replicas=(before.get("spec") or {}).get("replicas"),
        replicas=replicas,
    )


# ---------------------------------------------------------------------------------------------------------
# rollout status and history


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
    revisions: list[Revision] = Field(
        default_factory=list, description="Rollout history (deployments), newest first, at most `history_limit`"
    )
    revisions_total: int = Field(default=0, description="Revisions (owned ReplicaSets) found")
    conditions: list[Condition] = Field(default_factory=list, description="status.conditions (at most 20)")
    truncated: bool = Field(
        default=False,
        description="True when older revisions or conditions were left out (raise `history_limit`; the full "
        "ReplicaSet list: k8s_resources_list kind=replicasets)",
    )
    waited_seconds: float = 0.0


def _counts(kind: str, obj: dict[str, Any]) -> dict[str, int | None]:
    """desired / updated / ready / available replicas (DaemonSets count scheduled nodes)."""
    st = obj.get("status") or {}
    if kind == "DaemonSet":
        return {
            "desired": st.get("desiredNumberScheduled"),
            "updated": st.get("updatedNumberScheduled"),
            "ready": st.get("numberReady"),
            "available": st.get("numberAvailable"),
        }
    return {
        "desired": (obj.get("spec") or {}).get("replicas", 1),
        "updated": st.get("updatedReplicas"),
        "ready": st.get("readyReplicas"),
        "available": st.get("availableReplicas"),
    }


def _rollout_state(kind: str, obj: dict[str, Any]) -> tuple[bool, bool, str]:
    """(done, failed, message), with the rules of `kubectl rollout status`."""
    st = obj.get("status") or {}
    nums = _counts(kind, obj)
    want = nums["desired"] or 0
    updated, ready, available = nums["updated"] or 0, nums["ready"] or 0, nums["available"] or 0
    if (st.get("observedGeneration") or 0) < (meta_of(obj).get("generation") or 0):
        return False, False, "waiting for the controller to observe the latest spec"
    for c in st.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return False, True, f"rollout exceeded its progress deadline: {c.get('message', '')}"
    if updated < want:
        return False, False, f"{updated} of {want} replicas updated"
    if kind == "Deployment" and (st.get("replicas") or 0) > updated:
        return False, False, f"{(st.get('replicas') or 0) - updated} old replicas pending termination"
    new_rev = st.get("updateRevision")
    if kind == "StatefulSet" and new_rev and st.get("currentRevision") != new_rev and ready < want:
        return False, False, f"{ready} of {want} replicas ready on the new revision"
    if (available if kind != "StatefulSet" else ready) < want:
        return False, False, f"{available} of {want} updated replicas available"
    return True, False, f"successfully rolled out ({want} replicas)"


async def _history(kube: Kube, cluster: Cluster, dep: dict[str, Any], ns: str) -> list[tuple[Revision, dict[str, Any]]]:
    """The deployment's ReplicaSets as revisions, newest first."""
    labels = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    sel = ",".join(f"{k}={v}" for k, v in labels.items())
    doc = await call(
        kube,
        "list replicasets",
        cluster.request,
        "GET",
        api_path("apps", "v1", "replicasets", namespace=ns),
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
        revision = Revision(
            revision=rev,
            replicaset=m.get("name", ""),
            images=images,
            created=m.get("creationTimestamp"),
            replicas=(rs.get("status") or {}).get("replicas") or 0,
        )
        out.append((revision, rs))
    return sorted(out, key=lambda x: x[0].revision, reverse=True)


_MAX_CONDITIONS = 20


@tool("Rollout status and history", READ_OPEN)
async def k8s_rollout_status(
    ctx: Context[Any, Any],
    name: WorkloadName,
    namespace: NamespaceArg = None,
    kind: WorkloadKind = "deployment",
    wait_seconds: Annotated[int, Field(ge=0, le=300, description="Seconds to wait for completion")] = 0,
    history_limit: Annotated[
        int, Field(ge=0, le=100, description="Newest revisions to list (deployments); 0: none")
    ] = 10,
    context: ContextArg = None,
) -> RolloutStatus:
    """Check the rollout of a deployment, statefulset or daemonset (like `kubectl rollout status`), with history."""
    kube = state_of(ctx)
    action = f"get rollout status of {kind} {name}"
    cluster, res, ns = await namespaced_target(kube, context, f"{kind}s", "apps/v1", namespace, action, name=name)
    start = time.monotonic()
    while True:
        obj = await get_object(kube, cluster, res, name, ns, action)
        done, failed, message = _rollout_state(_KINDS[kind], obj)
        waited = time.monotonic() - start
        if done or failed or waited >= wait_seconds:
            break
        await anyio.sleep(min(1.0, wait_seconds - waited))
    history = await _history(kube, cluster, obj, ns) if kind == "deployment" else []
    conditions = conditions_of(obj)
    return RolloutStatus(
        kind=_KINDS[kind],
        name=name,
        namespace=ns,
        done=done,
        failed=failed,
        message=message,
        **_counts(_KINDS[kind], obj),
        revision=_revision(obj),
        revisions=[h for h, _ in history][:history_limit],
        revisions_total=len(history),
        conditions=conditions[:_MAX_CONDITIONS],
        truncated=len(history) > history_limit or len(conditions) > _MAX_CONDITIONS,
        waited_seconds=round(time.monotonic() - start, 2),
    )


# ---------------------------------------------------------------------------------------------------------
# rollout restart and undo


class RestartResult(BaseModel):
    kind: str
    name: str
    namespace: str
    restarted_at: str


@tool("Restart a workload's pods", open_world(DISRUPT))
async def k8s_rollout_restart(
    ctx: Context[Any, Any],
    name: WorkloadName,
    namespace: NamespaceArg = None,
    kind: WorkloadKind = "deployment",
    context: ContextArg = None,
) -> RestartResult:
    """Restart a workload's pods with a rolling update (like `kubectl rollout restart`)."""
    kube = state_of(ctx)
    action = f"restart {kind} {name}"
    cluster, res, ns = await namespaced_target(kube, context, f"{kind}s", "apps/v1", namespace, action, name=name)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    await patch(kube, cluster, action, res.path(name=name, namespace=ns), body)
    return RestartResult(kind=_KINDS[kind], name=name, namespace=ns, restarted_at=now)


class UndoResult(BaseModel):
    name: str
    namespace: str
    from_revision: int | None
    to_revision: int
    replicaset: str
    images: list[str]


def _pick_revision(
    history: list[tuple[Revision, dict[str, Any]]], current: int | None, to_revision: int | None, action: str
) -> tuple[Revision, dict[str, Any]]:
    """The revision to roll back to: `to_revision`, else the newest one that is not the current one."""
    if to_revision is None:
        candidates = [h for h in history if h[0].revision != current]
        if not candidates:
            raise tool_error(action, "no previous revision to roll back to", code="NotFound")
        return candidates[0]
    found = [h for h in history if h[0].revision == to_revision]
    if not found:
        raise tool_error(
            action,
            f"revision {to_revision} not found",
            code="NotFound",
            hint=f"known revisions: {[h[0].revision for h in history]}",
        )
    return found[0]


@tool("Roll a deployment back", open_world(DISRUPT))
async def k8s_rollout_undo(
    ctx: Context[Any, Any],
    name: str,
    namespace: NamespaceArg = None,
    to_revision: Annotated[
        int | None, Field(ge=1, description="Revision to roll back to (default: the previous one)")
    ] = None,
    context: ContextArg = None,
) -> UndoResult:
    """Roll a deployment back to a previous revision (like `kubectl rollout undo`); revisions: k8s_rollout_status."""
    kube = state_of(ctx)
    action = f"undo rollout of deployment {name}"
    cluster, res, ns = await namespaced_target(kube, context, "deployments", "apps/v1", namespace, action, name=name)
    dep = await get_object(kube, cluster, res, name, ns, action)
    current = _revision(dep)
    rev, rs = _pick_revision(await _history(kube, cluster, dep, ns), current, to_revision, action)
    tmpl = json.loads(json.dumps((rs.get("spec") or {}).get("template") or {}))
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    ops = [{"op": "replace", "path": "/spec/template", "value": tmpl}]
    await patch(kube, cluster, action, res.path(name=name, namespace=ns), ops, "application/json-patch+json")
    return UndoResult(
        name=name,
        namespace=ns,
        from_revision=current,
        to_revision=rev.revision,
        replicaset=rev.replicaset,
        images=rev.images,
    )
