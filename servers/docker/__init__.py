"""Docker module (prefix `docker_`): engine, containers, images, volumes, networks and builds."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from servers._common import ModuleInfo, ToolPolicy, register_tools
from servers._common.standalone import build_standalone
from servers.docker.client import Docker, resources
from servers.docker.settings import DockerSettings

KEY = "docker"
PREFIX = "docker_"


def register(server: MCPServer[Any], prefix: str = PREFIX, policy: ToolPolicy | None = None) -> list[str]:
    """Add the Docker tools that `policy` permits (default: read-only) to `server`."""
    from servers.docker.tools import TOOLS

    return register_tools(server, TOOLS, module=KEY, prefix=prefix, policy=policy or ToolPolicy())


MODULE = ModuleInfo(
    key=KEY,
    prefix=PREFIX,
    title="Docker",
    summary=(
        "inspect the Docker engine, containers (logs, stats, processes, filesystem changes), images, volumes "
        "and networks; with writes allowed, run and manage containers, build/pull/push images and clean up "
        "what this server created"
    ),
    resources=resources,
    register=register,
)


def build_server(policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """The Docker module as an MCP server of its own."""
    return build_standalone(MODULE, policy=policy)


__all__ = ["KEY", "MODULE", "PREFIX", "Docker", "DockerSettings", "build_server", "register", "resources"]
