"""Run one module as an MCP server of its own (`python -m servers.<name>`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

from servers._common.logs import ToolCallLog
from servers._common.settings import PolicySettings
from servers._common.tools import ModuleInfo, ToolPolicy, install_lean_results
from servers._common.version import VERSION


def build_standalone(
    info: ModuleInfo,
    *,
    policy: ToolPolicy | None = None,
    attach: Callable[[], AbstractAsyncContextManager[dict[str, Any]]] | None = None,
    middleware: Sequence[Any] = (),
) -> MCPServer[Any]:
    """The module's tools on a server of its own, with the same names and behaviour as in the composite.

    `attach` shares resources opened elsewhere (the HTTP app's runtime); by default the server opens its own.
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
        lifespan=lifespan,
        log_level="WARNING",
        middleware=[ToolCallLog(), *middleware],
    )
    info.register(server, info.prefix, policy or PolicySettings().policy())
    install_lean_results(server)
    return server


def run_standalone(info: ModuleInfo, argv: list[str] | None = None) -> None:
    """`python -m servers.<name> [serve flags]`: stdio by default, or HTTP/SSE like the composite's `serve`."""
    from composite.standalone import main

    main(info, argv)
