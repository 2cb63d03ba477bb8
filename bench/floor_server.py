"""The SDK floor: a minimal MCPServer with one no-op tool, nothing of ours.

`python -m bench.floor_server` serves it over the SDK's stdio transport; `--lean` over our asyncio-pipe
transport (composite/stdio.py); `--http PORT` as one stateless, JSON-response streamable HTTP process.
"""

from __future__ import annotations

import sys
from typing import Any

from mcp.server.mcpserver import MCPServer


def build() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("floor", log_level="WARNING")

    @server.tool()
    def noop() -> dict[str, bool]:
        """Do nothing."""
        return {"ok": True}

    return server


def main(argv: list[str]) -> None:
    server = build()
    if argv[:1] == ["--http"]:
        import uvicorn

        app = server.streamable_http_app(stateless_http=True, json_response=True)
        uvicorn.run(app, host="127.0.0.1", port=int(argv[1]), log_level="warning", access_log=False)
    elif argv[:1] == ["--lean"]:
        from composite.stdio import run_stdio

        run_stdio(server)
    else:
        server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
