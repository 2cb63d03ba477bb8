"""Pod logs: tail, since, previous instance and timestamps, capped in bytes keeping the newest lines."""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import newest_lines, redact_output, tool_error
from servers._common.lines import GrepArg, grep_filter
from servers._common.tools import READ_OPEN, tool
from servers.kubernetes.common import ContextArg, NamespaceArg, call, get_object, namespaced_target, state_of
from servers.kubernetes.names import check_label
from servers.kubernetes.shaping import meta_of, redact_log_manifests

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


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


def _pick_container(pod: dict[str, Any], names: list[str], notes: list[str]) -> str | None:
    """The pod's default container (kubectl's annotation), else its first one."""
    default = (meta_of(pod).get("annotations") or {}).get(DEFAULT_CONTAINER)
    container = default if default in names else (names[0] if names else None)
    if len(names) > 1:
        notes.append(f"pod has containers {names}; showing {container!r} (pass `container`)")
    return container


def _all_containers(pod: dict[str, Any]) -> set[str]:
    """Names of the pod's containers, init containers and ephemeral containers."""
    spec = pod.get("spec") or {}
    groups = ("containers", "initContainers", "ephemeralContainers")
    return {str(c.get("name")) for g in groups for c in spec.get(g) or [] if isinstance(c, dict)}


def _refuse_api_object(data: bytes, action: str) -> None:
    """Log text is never an API object: an answer that is one (a Secret, a list) is refused, not shown."""
    head = data.lstrip()[:1]
    if head != b"{":
        return
    try:
        doc = json.loads(data)
    except ValueError:
        return
    if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
        raise tool_error(action, f"refused: the API server answered with a {doc.get('kind')} object, not log text")


@tool("Read pod logs", READ_OPEN)
async def k8s_pod_logs(
    ctx: Context[Any, Any],
    name: str,
    namespace: NamespaceArg = None,
    container: str | None = None,  # default: the pod's default container or its first one
    tail_lines: Annotated[int | None, Field(ge=1, le=100_000, description="Last N lines (default 200)")] = 200,
    since_seconds: Annotated[int | None, Field(ge=1, description="Only the last N seconds")] = None,
    previous: Annotated[bool, Field(description="Logs of the previous (crashed) instance")] = False,
    timestamps: bool = False,
    max_bytes: Annotated[int | None, Field(ge=256, le=1_000_000, description="Byte cap (default 64 kB)")] = None,
    grep: GrepArg = None,
    context: ContextArg = None,
) -> PodLogs:
    """Read a pod's logs, newest lines kept within a byte cap."""
    kube = state_of(ctx)
    action = f"read logs of pod {name}"
    if container is not None:
        check_label(container, "container", "container names are DNS-1123 labels; see k8s_resource_describe")
    cluster, res, ns = await namespaced_target(kube, context, "pods", "v1", namespace, action, name=name)
    pod = await get_object(kube, cluster, res, name, ns, action)
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    notes: list[str] = []
    if container is None:
        container = _pick_container(pod, names, notes)
    if container is None:
        raise tool_error(action, "the pod has no containers")
    if container not in _all_containers(pod):
        raise tool_error(
            action, f"the pod has no container {container!r}", code="NotFound", hint=f"containers: {', '.join(names)}"
        )
    cap = max_bytes or kube.settings.log_max_bytes
    fetch = cap * 8  # ask for more than the cap: the newest lines are kept, and a cut is then known
    query = {
        "container": container,
        "tailLines": tail_lines,
        "sinceSeconds": since_seconds,
        "previous": previous or None,
        "timestamps": timestamps or None,
        "limitBytes": fetch,
    }
    data: bytes = await call(
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
    _refuse_api_object(data, action)
    reveal = kube.settings.reveal_secrets
    if grep:
        redacted = redact_output(redact_log_manifests(data.decode(errors="replace"), reveal))
        found = grep_filter(redacted, grep, cap, action)
        text, truncated, notes = found.text, found.truncated, notes + found.notes
    else:
        text, truncated = newest_lines(data.decode(errors="replace"), cap)
        truncated = truncated or len(data) >= fetch
        text = redact_output(redact_log_manifests(text, reveal))
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
