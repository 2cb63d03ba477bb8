"""Run one module as an MCP server of its own (`python -m servers.<name>`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from servers._common.logs import ToolCallLog, configure_logging
from servers._common.settings import PolicySettings
from servers._common.tools import ModuleInfo, ToolPolicy
from servers._common.version import VERSION


def build_standalone(info: ModuleInfo, *, policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """The module's tools on a server of its own, with the same names and behaviour as in the composite."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with info.resources() as res:
            yield {info.key: res}

    server: MCPServer[Any] = MCPServer(
        f"backend-architect-{info.key}",
        title=f"Backend Architect: {info.title}",
        instructions=info.summary,
        version=VERSION,
        lifespan=lifespan,
        log_level="WARNING",
        middleware=[ToolCallLog()],
    )
    info.register(server, info.prefix, policy or PolicySettings().policy())
    return server


def run_standalone(info: ModuleInfo) -> None:
    """Serve the module over stdio; logs go to stderr."""
    from composite.stdio import run_stdio

    configure_logging()
    run_stdio(build_standalone(info))
