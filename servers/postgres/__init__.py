"""PostgreSQL module (prefix `pg_`): schemas, tables, read-only queries, EXPLAIN and guarded writes."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from servers._common import ModuleInfo, ToolPolicy, register_tools
from servers._common.standalone import build_standalone
from servers.postgres.client import Postgres, resources
from servers.postgres.settings import PostgresSettings

KEY = "postgres"
PREFIX = "pg_"


def register(server: MCPServer[Any], prefix: str = PREFIX, policy: ToolPolicy | None = None) -> list[str]:
    """Add the PostgreSQL tools that `policy` permits (default: read-only) to `server`."""
    from servers.postgres.tools import TOOLS

    return register_tools(server, TOOLS, module=KEY, prefix=prefix, policy=policy or ToolPolicy())


MODULE = ModuleInfo(
    key=KEY,
    prefix=PREFIX,
    title="PostgreSQL",
    summary=(
        "inspect schemas, tables, columns, indexes and foreign keys; run read-only SQL with bind parameters "
        "and paging; read EXPLAIN plans (optionally ANALYZE); see sessions, lock blockers, health checks "
        "(replication lag, slots, WAL archiving, checkpoints) and the heaviest statements; try hypothetical indexes; "
        "see versioned migrations and their drift; rehearse, apply and roll back migrations (locks, rewrites, "
        "schema diff, lint) when writes are allowed"
    ),
    resources=resources,
    register=register,
)


def build_server(policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """The PostgreSQL module as an MCP server of its own."""
    return build_standalone(MODULE, policy=policy)


__all__ = ["KEY", "MODULE", "PREFIX", "Postgres", "PostgresSettings", "build_server", "register", "resources"]
