"""Which tools one request may see and call: the server's selection, narrowed per HTTP request.

The server flags (`--servers`, `--toolsets`, `--allow-*`, `--tools`) decide what is registered. A remote
agent can narrow its own view further with a header or URL parameter on `/mcp` (or the SSE message
POSTs); it can never widen it, because narrowing only intersects with what is registered:

    X-BAM-Toolsets: postgres.query,redis        ?toolsets=postgres.query,redis
    X-BAM-Read-Only: true                       ?read_only=true

The same check runs for `tools/list` and at call time (full mode: this middleware; discovery mode: the
meta-tools), so a tool outside the view is unreachable, not only unlisted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, ListToolsResult, TextContent

from composite.modules import ModuleTools, resolve_toolsets

HEADER_TOOLSETS = "x-bam-toolsets"
HEADER_READ_ONLY = "x-bam-read-only"
PARAM_TOOLSETS = "toolsets"
PARAM_READ_ONLY = "read_only"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Entry:
    """One registered module tool."""

    name: str
    module: str
    toolset: str
    read_only: bool
    tool: Tool


@dataclass(frozen=True)
class Narrowing:
    """What one request asked to see: toolsets (None: all registered) and read-only."""

    toolsets: frozenset[tuple[str, str]] | None = None
    read_only: bool = False

    def allows(self, entry: Entry) -> bool:
        if self.read_only and not entry.read_only:
            return False
        return self.toolsets is None or (entry.module, entry.toolset) in self.toolsets


class ToolIndex:
    """The registered module tools in list order, with their module, toolset and tier."""

    def __init__(self, catalog: list[ModuleTools], tools: Iterable[Tool]) -> None:
        self.catalog = catalog
        by_prefix = sorted(catalog, key=lambda m: -len(m.prefix))
        self.entries: dict[str, Entry] = {}
        for tool in tools:
            mod = next(m for m in by_prefix if tool.name.startswith(m.prefix))
            short = tool.name[len(mod.prefix) :]
            read_only = bool(tool.annotations and tool.annotations.read_only_hint)
            self.entries[tool.name] = Entry(tool.name, mod.key, mod.toolset_of(short) or "", read_only, tool)

    def names(self) -> list[str]:
        return list(self.entries)

    def tools(self) -> list[Tool]:
        return [e.tool for e in self.entries.values()]

    def has_writes(self) -> bool:
        return any(not e.read_only for e in self.entries.values())

    def visible(self, narrowing: Narrowing | None) -> list[Entry]:
        return [e for e in self.entries.values() if narrowing is None or narrowing.allows(e)]

    def get(self, name: str, narrowing: Narrowing | None) -> Entry | None:
        entry = self.entries.get(name)
        if entry is None or (narrowing is not None and not narrowing.allows(entry)):
            return None
        return entry

    def narrowing(self, request: Any) -> Narrowing | None:
        """The request's own narrowing from its headers or URL parameters; None when it asks for none.

        Raises ValueError for a toolset name that does not exist or a read-only value that is not a boolean.
        """
        if request is None:
            return None
        headers = getattr(request, "headers", {})
        params = getattr(request, "query_params", {})
        toolsets = headers.get(HEADER_TOOLSETS) or params.get(PARAM_TOOLSETS)
        flag = (headers.get(HEADER_READ_ONLY) or params.get(PARAM_READ_ONLY) or "").strip().lower()
        if flag not in _TRUE + _FALSE:
            raise ValueError(f"{HEADER_READ_ONLY} / {PARAM_READ_ONLY} must be true or false, not {flag[:40]!r}")
        if not toolsets and flag in _FALSE:
            return None
        selected = frozenset(resolve_toolsets(toolsets, self.catalog)) if toolsets else None
        return Narrowing(selected, flag in _TRUE)


def unknown_tool(name: str) -> CallToolResult:
    """The result of calling a tool the caller cannot see: the same as calling an unknown tool."""
    return CallToolResult(content=[TextContent(type="text", text=f"Unknown tool: {name}")], is_error=True)


def install_request_selection(server: MCPServer[Any], index: ToolIndex, meta: dict[str, bool]) -> None:
    """Wrap the server's `tools/list` and `tools/call` handlers with the request's narrowing.

    `meta` maps the names of non-module tools (the discovery meta-tools) to whether they only read: they
    have no toolset, so a toolset narrowing keeps them, and a read-only narrowing keeps the reading ones.
    """
    low = server._lowlevel_server
    list_entry, call_entry = low.get_request_handler("tools/list"), low.get_request_handler("tools/call")
    assert list_entry is not None and call_entry is not None

    def narrowing(ctx: Any) -> Narrowing | None:
        try:
            return index.narrowing(ctx.request)
        except ValueError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from exc

    def allowed(name: str, n: Narrowing) -> bool:
        if name in meta:
            return meta[name] or not n.read_only
        return index.get(name, n) is not None

    async def list_tools(ctx: Any, params: Any) -> Any:
        result = await list_entry.handler(ctx, params)
        n = narrowing(ctx)
        if n is None or not isinstance(result, ListToolsResult):
            return result
        return result.model_copy(update={"tools": [t for t in result.tools if allowed(t.name, n)]})

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> Any:
        n = narrowing(ctx)
        if n is not None and not allowed(params.name, n):
            return unknown_tool(params.name)
        return await call_entry.handler(ctx, params)

    low.add_request_handler("tools/list", list_entry.params_type, list_tools)
    low.add_request_handler("tools/call", CallToolRequestParams, call_tool)
