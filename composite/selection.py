"""Which tools one request may see and call: the server's selection, narrowed per HTTP request.

The server flags (`--servers`, `--toolsets`, `--allow-*`, `--tools`) decide what is registered. A remote
agent can narrow its own view further with a header or URL parameter on `/mcp` (or the SSE message
POSTs); it can never widen it, because narrowing only intersects with what is registered:

    X-BAM-Toolsets: postgres.query,redis        ?toolsets=postgres.query,redis
    X-BAM-Read-Only: true                       ?read_only=true

With token authentication, the token's scopes (composite.auth) are one more ceiling of the same kind.

The same check runs for `tools/list` and at call time (full mode: this middleware; discovery mode: the
meta-tools), so a tool outside the view is unreachable, not only unlisted. A tool outside the token's
scopes answers with an error naming the missing scope (over HTTP, `ScopeGate` refuses it with 403 first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, ListToolsResult, TextContent

from composite.auth import Grants, grants_of, missing_scope
from composite.modules import ModuleTools, resolve_toolsets
from servers._common.identity import BackendIdentity, acting_as
from servers._common.identity import current as current_identity
from servers._common.sdk import lowlevel
from servers._common.tools import ADMIN

HEADER_TOOLSETS = "x-bam-toolsets"
HEADER_READ_ONLY = "x-bam-read-only"
PARAM_TOOLSETS = "toolsets"
PARAM_READ_ONLY = "read_only"
_RAW_TOOLSETS = HEADER_TOOLSETS.encode()
_RAW_READ_ONLY = HEADER_READ_ONLY.encode()
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

    @property
    def tier(self) -> str:
        """`read`, `write` or `admin`: the scope tier a caller needs for this tool."""
        if self.read_only:
            return "read"
        return "admin" if (self.tool.meta or {}).get("level") == ADMIN else "write"


@dataclass(frozen=True)
class Narrowing:
    """What one request may see: toolsets (None: all registered), read-only, and its token's scopes."""

    toolsets: frozenset[tuple[str, str]] | None = None
    read_only: bool = False
    grants: Grants | None = None

    def allows(self, entry: Entry) -> bool:
        return self.selects(entry) and self.missing(entry) is None

    def selects(self, entry: Entry) -> bool:
        """What the request asked to see, scopes aside."""
        if self.read_only and not entry.read_only:
            return False
        return self.toolsets is None or (entry.module, entry.toolset) in self.toolsets

    def missing(self, entry: Entry) -> str | None:
        """The scope the token lacks for `entry`, or None."""
        if self.grants is None or self.grants.allows(entry.module, entry.tier):
            return None
        return missing_scope(entry.module, entry.tier)


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
        grants = grants_of(request)
        toolsets, flag = _asked(request)
        flag = flag.strip().lower()
        if flag not in _TRUE + _FALSE:
            raise ValueError(f"{HEADER_READ_ONLY} / {PARAM_READ_ONLY} must be true or false, not {flag[:40]!r}")
        if not toolsets and flag in _FALSE and grants is None:
            return None
        selected = frozenset(resolve_toolsets(toolsets, self.catalog)) if toolsets else None
        return Narrowing(selected, flag in _TRUE, grants)

    def refusal(self, name: str, narrowing: Narrowing | None) -> CallToolResult | None:
        """Why `name` cannot be called by this request (unknown, or a missing scope); None when it can."""
        entry = self.entries.get(name)
        if entry is None or (narrowing is not None and not narrowing.selects(entry)):
            return unknown_tool(name)
        missing = narrowing.missing(entry) if narrowing is not None else None
        return insufficient_scope(name, missing) if missing else None

    def scope_needed(self, name: Any, arguments: dict[str, Any], grants: Grants, meta: dict[str, bool]) -> str | None:
        """The scope a `tools/call` of `name` needs and `grants` lack (discovery: of the tool it names)."""
        if name in meta and isinstance(arguments.get("name"), str):
            name = arguments["name"]
        entry = self.entries.get(name) if isinstance(name, str) else None
        if entry is None:
            return None
        return Narrowing(grants=grants).missing(entry)


def _asked(request: Any) -> tuple[str | None, str]:
    """The toolsets and read-only flag a request asks for: its header, else its URL parameter.

    An ASGI request without a query string is read from its raw headers (no header or parameter objects are
    built for what is almost always nothing)."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and not scope.get("query_string") and "headers" in scope:
        toolsets = flag = None
        for key, value in scope["headers"]:
            if key == _RAW_TOOLSETS and toolsets is None:
                toolsets = value.decode("latin-1")
            elif key == _RAW_READ_ONLY and flag is None:
                flag = value.decode("latin-1")
        return toolsets or None, flag or ""
    headers = getattr(request, "headers", {})
    params = getattr(request, "query_params", {})
    toolsets = headers.get(HEADER_TOOLSETS) or params.get(PARAM_TOOLSETS)
    return toolsets, headers.get(HEADER_READ_ONLY) or params.get(PARAM_READ_ONLY) or ""


def unknown_tool(name: str) -> CallToolResult:
    """The result of calling a tool the caller cannot see: the same as calling an unknown tool."""
    return CallToolResult(content=[TextContent(type="text", text=f"Unknown tool: {name}")], is_error=True)


def insufficient_scope(name: str, scope: str) -> CallToolResult:
    """The result of calling a tool outside the token's scopes; nothing ran."""
    text = f"insufficient_scope: {name} needs the scope {scope} (or *:{scope.split(':')[1]}); nothing was run"
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def install_request_selection(
    server: MCPServer[Any],
    index: ToolIndex,
    meta: dict[str, bool],
    identity_of: Callable[[Any], BackendIdentity | None] | None = None,
) -> None:
    """Wrap the server's `tools/list` and `tools/call` handlers with the request's narrowing.

    `meta` maps the names of non-module tools (the discovery meta-tools) to whether they only read: they
    have no toolset, so a toolset narrowing keeps them, and a read-only narrowing keeps the reading ones.
    `identity_of(request)` is whom a call acts as at the backends (servers._common.identity).
    """
    low = lowlevel(server)
    list_entry, call_entry = low.get_request_handler("tools/list"), low.get_request_handler("tools/call")
    assert list_entry is not None and call_entry is not None

    def narrowing(ctx: Any) -> Narrowing | None:
        try:
            return index.narrowing(ctx.request)
        except ValueError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from exc

    def allowed(name: str, n: Narrowing) -> bool:
        if name in meta:
            tier = "read" if meta[name] else "write"
            return (meta[name] or not n.read_only) and (n.grants is None or n.grants.any(tier))
        return index.get(name, n) is not None

    async def list_tools(ctx: Any, params: Any) -> Any:
        result = await list_entry.handler(ctx, params)
        n = narrowing(ctx)
        if n is None or not isinstance(result, ListToolsResult):
            return result
        return result.model_copy(update={"tools": [t for t in result.tools if allowed(t.name, n)]})

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> Any:
        n = narrowing(ctx)
        if n is not None and params.name in meta and not allowed(params.name, n):
            return unknown_tool(params.name)
        if n is not None and params.name not in meta and (refused := index.refusal(params.name, n)) is not None:
            return refused
        identity = identity_of(ctx.request) if identity_of is not None else None
        if identity is None and current_identity() is None:  # nobody to act as (stdio, no mapping): as it is
            return await call_entry.handler(ctx, params)
        with acting_as(identity):
            return await call_entry.handler(ctx, params)

    low.add_request_handler("tools/list", list_entry.params_type, list_tools)
    low.add_request_handler("tools/call", CallToolRequestParams, call_tool)
