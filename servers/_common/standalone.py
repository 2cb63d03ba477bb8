"""Run one module as an MCP server of its own (`python -m servers.<name>`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool

from servers._common.logs import ToolCallLog
from servers._common.module import ModuleInfo
from servers._common.tools import install_lean_results, skip_idle_tracing
from servers._common.version import VERSION


def build_standalone(
    info: ModuleInfo,
    tools: list[Tool],
    *,
    attach: Callable[[], AbstractAsyncContextManager[dict[str, Any]]] | None = None,
    middleware: Sequence[Any] = (),
    **server_kwargs: Any,
) -> MCPServer[Any]:
    """The module's `tools` (`info.tools(policy)`) on a server of its own, as named and run in the composite.

    `attach` shares resources opened elsewhere (the HTTP app's runtime); by default the server opens its own.
    `server_kwargs` go to `MCPServer` (the composite's bearer authentication).
    """

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        if attach is not None:
            async with attach() as state:
                yield state
            return
        async with info.resources() as res:
            yield {info.key: res}

    server: MCPServer[Any] = MCPServer(
        f"backend-architect-{info.key}",
        title=f"Backend Architect: {info.title}",
        instructions=info.summary,
        version=VERSION,
        tools=tools,
        lifespan=lifespan,
        log_level="WARNING",
        middleware=[ToolCallLog(), *middleware],
        **server_kwargs,
    )
    install_lean_results(server)
    skip_idle_tracing(server)
    return server


def run_standalone(info: ModuleInfo, argv: list[str] | None = None) -> None:
    """`python -m servers.<name> [serve flags]`: stdio by default, or HTTP/SSE like the composite's `serve`."""
    from composite.standalone import main

    main(info, argv)
