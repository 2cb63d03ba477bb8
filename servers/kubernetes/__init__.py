"""Kubernetes module (prefix `k8s_`): any resource (CRDs too), logs, events, apply, scale and rollouts."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from servers._common import ModuleInfo, ToolPolicy, register_tools
from servers._common.standalone import build_standalone
from servers.kubernetes.client import Kube, resources
from servers.kubernetes.settings import KubernetesSettings

KEY = "kubernetes"
PREFIX = "k8s_"


def register(server: MCPServer[Any], prefix: str = PREFIX, policy: ToolPolicy | None = None) -> list[str]:
    """Add the Kubernetes tools that `policy` permits (default: read-only) to `server`."""
    from servers.kubernetes.tools import TOOLS

    return register_tools(server, TOOLS, module=KEY, prefix=prefix, policy=policy or ToolPolicy())


MODULE = ModuleInfo(
    key=KEY,
    prefix=PREFIX,
    title="Kubernetes",
    summary=(
        "discover API resources and CRDs; list, get and describe any object with selectors and paging; read "
        "events and pod logs; when allowed, server-side apply with dry run and diff, delete, scale, rollout "
        "restart/status/undo and cordon nodes"
    ),
    resources=resources,
    register=register,
)


def build_server(policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """The Kubernetes module as an MCP server of its own."""
    return build_standalone(MODULE, policy=policy)


__all__ = ["KEY", "MODULE", "PREFIX", "Kube", "KubernetesSettings", "build_server", "register", "resources"]
