"""Redis module (prefix `redis_`): keys, typed values, streams, pub/sub, diagnostics and guarded writes."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from servers._common import ModuleInfo, ToolPolicy, register_tools
from servers._common.standalone import build_standalone
from servers.redis.client import Redis, resources
from servers.redis.settings import RedisSettings

KEY = "redis"
PREFIX = "redis_"


def register(server: MCPServer[Any], prefix: str = PREFIX, policy: ToolPolicy | None = None) -> list[str]:
    """Add the Redis tools that `policy` permits (default: read-only) to `server`.

    `redis_command` is registered once, in the most capable variant the policy permits: admin
    commands with admin allowed, write commands with writes allowed, else read-only commands.
    """
    from servers.redis.tools import COMMAND_TOOLS, TOOLS

    pol = policy or ToolPolicy()
    added = register_tools(server, TOOLS, module=KEY, prefix=prefix, policy=pol)
    for spec in COMMAND_TOOLS:
        if pol.permits(KEY, f"{prefix}{spec.name}", spec):
            added += register_tools(server, [spec], module=KEY, prefix=prefix, policy=pol)
            break
    return added


MODULE = ModuleInfo(
    key=KEY,
    prefix=PREFIX,
    title="Redis",
    summary=(
        "browse keys with SCAN, read any value by type with caps and cursors, page streams and pending "
        "entries, listen on pub/sub briefly, read INFO/hit ratio/evictions, SLOWLOG, LATENCY, clients, "
        "memory doctor and a sampled big-key/prefix report; run other commands classified by Redis's own "
        "command metadata"
    ),
    resources=resources,
    register=register,
)


def build_server(policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """The Redis module as an MCP server of its own."""
    return build_standalone(MODULE, policy=policy)


__all__ = ["KEY", "MODULE", "PREFIX", "Redis", "RedisSettings", "build_server", "register", "resources"]
