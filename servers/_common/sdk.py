"""The one place that reaches past the SDK's public surface.

`MCPServer` has no public accessor for its low-level `Server`, which the composite needs for three things
the public API does not offer: wrapping the `tools/call` and `tools/list` handlers (the wire result, the
per-request narrowing) and running the server on our own stdio streams. Every such use goes through
`lowlevel()`; `tests/servers/_common/test_sdk.py` fails loudly when an SDK release moves what it relies on.
"""

from __future__ import annotations

from typing import Any

from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import MCPServer


def lowlevel(server: MCPServer[Any]) -> Server[Any]:
    """The low-level `Server` under `server` (request handlers, `run`, initialization options)."""
    low = server._lowlevel_server
    if not isinstance(low, Server):  # pragma: no cover - an SDK change, caught by test_sdk.py
        raise RuntimeError(f"the SDK's MCPServer no longer holds a low-level Server ({type(low).__name__})")
    return low
