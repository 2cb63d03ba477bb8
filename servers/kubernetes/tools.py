"""The kubernetes module's tool list: names, titles and annotations.

The tools live by concern: discovery (contexts, API resources, namespaces), read (list/get/describe of any
kind), events, logs, apply (server-side apply and delete), workloads (scale and rollouts) and nodes.
"""

from __future__ import annotations

from servers._common import DELETE, DISRUPT, OVERWRITE, READ_OPEN, WRITE_IDEMPOTENT, ToolCatalog, ToolSpec
from servers._common.tools import open_world
from servers.kubernetes.apply import k8s_apply, k8s_resource_delete
from servers.kubernetes.discovery import k8s_api_resources, k8s_contexts_list, k8s_namespaces_list
from servers.kubernetes.events import k8s_events_list
from servers.kubernetes.logs import k8s_pod_logs
from servers.kubernetes.nodes import k8s_node_cordon, k8s_node_uncordon
from servers.kubernetes.read import k8s_resource_describe, k8s_resource_get, k8s_resources_list
from servers.kubernetes.workloads import k8s_rollout_restart, k8s_rollout_status, k8s_rollout_undo, k8s_scale

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
    ToolSpec(k8s_apply, "apply", "Server-side apply manifests (dry run + diff first)", open_world(OVERWRITE)),
    ToolSpec(k8s_resource_delete, "resource_delete", "Delete an object", open_world(DELETE)),
    ToolSpec(k8s_scale, "scale", "Scale a workload", open_world(OVERWRITE)),
    ToolSpec(k8s_rollout_restart, "rollout_restart", "Restart a workload's pods", open_world(DISRUPT)),
    ToolSpec(k8s_rollout_undo, "rollout_undo", "Roll a deployment back", open_world(DISRUPT)),
    ToolSpec(k8s_node_cordon, "node_cordon", "Cordon a node", open_world(WRITE_IDEMPOTENT)),
    ToolSpec(k8s_node_uncordon, "node_uncordon", "Uncordon a node", open_world(WRITE_IDEMPOTENT)),
]

TOOLSETS: dict[str, tuple[str, ...]] = {
    "discovery": ("contexts_list", "api_resources", "namespaces_list"),
    "resources": ("resources_list", "resource_get", "resource_describe", "apply", "resource_delete"),
    "troubleshooting": ("events_list", "pod_logs"),
    "workloads": ("rollout_status", "scale", "rollout_restart", "rollout_undo"),
    "nodes": ("node_cordon", "node_uncordon"),
}
"""Named groups of the tools above, selectable with `--toolsets kubernetes.<name>`."""
DEFAULT_TOOLSETS = ("discovery", "resources", "troubleshooting", "workloads", "nodes")

CATALOG = ToolCatalog(TOOLS, TOOLSETS, DEFAULT_TOOLSETS)
