"""The SDK seam (`servers/_common/sdk.py`): what the composite relies on beyond the SDK's public surface."""

from __future__ import annotations

from typing import Any

from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import MCPServer

from servers._common.sdk import lowlevel


def test_lowlevel_is_the_server_whose_handlers_and_run_the_composite_uses() -> None:
    server: MCPServer[Any] = MCPServer("seam")

    @server.tool()
    def ping() -> str:
        """Answer pong."""
        return "pong"

    low = lowlevel(server)
    assert isinstance(low, Server)
    assert low.middleware is server.middleware  # the public middleware chain is the same list
    for method in ("tools/call", "tools/list"):
        entry = low.get_request_handler(method)
        assert entry is not None and callable(entry.handler) and entry.params_type is not None
    assert callable(low.run) and low.create_initialization_options().server_name == "seam"
    assert callable(low.add_request_handler)
