"""The kubernetes tools by toolset, in the order clients see them (titles and annotations: `@tool`).

The tools live by concern: discovery (contexts, API resources, namespaces), read (list/get/describe of any
kind), events, logs, apply (server-side apply and delete), workloads (scale and rollouts) and nodes.
"""

from __future__ import annotations

from servers._common import ToolCatalog, Toolsets
from servers.kubernetes.apply import k8s_apply, k8s_resource_delete
from servers.kubernetes.discovery import k8s_api_resources, k8s_contexts_list, k8s_namespaces_list
from servers.kubernetes.events import k8s_events_list
from servers.kubernetes.logs import k8s_pod_logs
from servers.kubernetes.nodes import k8s_node_cordon, k8s_node_uncordon
from servers.kubernetes.read import k8s_resource_describe, k8s_resource_get, k8s_resources_list
from servers.kubernetes.workloads import k8s_rollout_restart, k8s_rollout_status, k8s_rollout_undo, k8s_scale

_READ = (k8s_resources_list, k8s_resource_get, k8s_resource_describe)
_TROUBLESHOOTING = (k8s_events_list, k8s_pod_logs)
_WORKLOAD_WRITES = (k8s_scale, k8s_rollout_restart, k8s_rollout_undo)
_NODES = (k8s_node_cordon, k8s_node_uncordon)

TOOLSETS: Toolsets = {
    "discovery": (k8s_contexts_list, k8s_api_resources, k8s_namespaces_list),
    "resources": (*_READ, k8s_apply, k8s_resource_delete),
    "troubleshooting": _TROUBLESHOOTING,
    "workloads": (k8s_rollout_status, *_WORKLOAD_WRITES),
    "nodes": _NODES,
}
"""Named groups of tools, selectable with `--toolsets kubernetes.<name>`."""

CATALOG = ToolCatalog.of(
    TOOLSETS,
    default=("discovery", "resources", "troubleshooting", "workloads", "nodes"),
    order=(  # the order clients have always seen (not toolset by toolset): reads first
        k8s_contexts_list,
        k8s_api_resources,
        *_READ,
        *_TROUBLESHOOTING,
        k8s_namespaces_list,
        k8s_rollout_status,
        k8s_apply,
        k8s_resource_delete,
        *_WORKLOAD_WRITES,
        *_NODES,
    ),
)
