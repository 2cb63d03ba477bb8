"""Discovery mode (`--discovery`): a few meta-tools instead of every tool definition in the context.

`tools_search` finds tools by keywords, module and tier; `tools_describe` returns their full definitions;
`tool_call` runs a read-only tool and `tool_call_write` (listed only when writes are allowed) a tool that
changes state, so clients can still decide approval prompts from the annotations. The tools reachable
this way are exactly those full mode would list: the modules register into a catalog server that is never
served, with the same policy, and a call runs the tool's own argument validation, progress and errors.
The listed tools never change during a session.
"""

import logging
import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from composite.selection import Entry, Narrowing, ToolIndex
from servers._common.tools import READ, ToolSpec, make_tools

log = logging.getLogger("backend_architect_mcp.discovery")

SEARCH = "tools_search"
DESCRIBE = "tools_describe"
CALL = "tool_call"
CALL_WRITE = "tool_call_write"

CALL_READ_ANNOTATIONS = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
CALL_WRITE_ANNOTATIONS = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)


class ToolSummary(BaseModel):
    name: str
    summary: str
    access: Literal["read", "write"]


class SearchResult(BaseModel):
    tools: list[ToolSummary]
    total: int = Field(description="Matching tools, before the limit")
    truncated: bool


class ToolDefinition(BaseModel):
    name: str
    module: str
    toolset: str
    title: str | None
    description: str
    input_schema: dict[str, Any] = Field(alias="inputSchema")
    output_schema: dict[str, Any] | None = Field(alias="outputSchema")
    annotations: dict[str, Any]


class DescribeResult(BaseModel):
    tools: list[ToolDefinition]
    unknown: list[str] = Field(description="Names that match no tool available here")


def summary(description: str) -> str:
    """The first sentence of a description."""
    first = description.strip().split("\n", 1)[0]
    return re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0][:160]


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def search(index: ToolIndex, n: Narrowing | None, query: str, module: str | None, access: str) -> list[Entry]:
    """Tools matching the filters, best keyword match first, then in list order."""
    words = _words(query)
    scored: list[tuple[int, int, Entry]] = []
    for pos, e in enumerate(index.visible(n)):
        if (module and e.module != module) or (access == "read" and not e.read_only):
            continue
        if access == "write" and e.read_only:
            continue
        hay = " ".join([e.name, e.tool.title or "", e.tool.description, e.module, e.toolset]).lower()
        score = sum(1 for w in words if w in hay)
        if words and score == 0:
            continue
        scored.append((-score, pos, e))
    return [e for _, _, e in sorted(scored, key=lambda t: (t[0], t[1]))]


def definition(e: Entry) -> ToolDefinition:
    t = e.tool
    annotations = t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else {}
    return ToolDefinition(
        name=e.name,
        module=e.module,
        toolset=e.toolset,
        title=t.title,
        description=t.description,
        inputSchema=t.parameters,
        outputSchema=t.output_schema,
        annotations=annotations,
    )


def toolsets_line(index: ToolIndex) -> str:
    """`postgres (catalog, query), redis (keys)`: the toolsets that hold at least one registered tool."""
    seen: dict[str, list[str]] = {}
    for e in index.entries.values():
        sets = seen.setdefault(e.module, [])
        if e.toolset not in sets:
            sets.append(e.toolset)
    return "; ".join(f"{m} ({', '.join(sets)})" for m, sets in seen.items()) or "none"


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def run(entry: Entry, arguments: dict[str, Any], ctx: Context[Any, Any]) -> CallToolResult:
    """Run a catalog tool exactly as a direct call would: its validation, progress, result and errors."""
    try:
        result = await entry.tool.run(arguments, ctx, convert_result=True)
    except MCPError:
        raise
    except UnexpectedToolError as exc:
        log.exception("tool %r raised an unexpected exception", entry.name)
        return _error(str(exc))
    except ToolError as exc:
        log.info("tool %r failed: %r", entry.name, str(exc))
        return _error(str(exc))
    if not isinstance(result, CallToolResult):
        return _error(f"{entry.name} needs input this client cannot give through {CALL}; call it directly")
    return result


def discovery_tools(index: ToolIndex, modules: list[str], writes: bool) -> list[Tool]:
    """The meta-tools over `index` (`tool_call_write` only when `writes`), for the served server."""

    def narrowing(ctx: Context[Any, Any]) -> Narrowing | None:
        try:
            return index.narrowing(ctx.request_context.request)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc

    def tools_search(
        ctx: Context[Any, Any],
        query: Annotated[str, Field(description="Keywords, e.g. 'slow queries' or 'pod logs'; empty: all")] = "",
        module: Annotated[
            str | None, Field(description="Only this module", json_schema_extra={"enum": modules})
        ] = None,
        access: Annotated[Literal["read", "write", "any"], Field(description="Tier of the tools")] = "any",
        limit: Annotated[int, Field(ge=1, le=200, description="Most tools to return")] = 25,
    ) -> SearchResult:
        """Find tools by keywords, module and read/write tier; use it first, then tools_describe."""
        found = search(index, narrowing(ctx), query, module, access)
        items = [
            ToolSummary(name=e.name, summary=summary(e.tool.description), access="read" if e.read_only else "write")
            for e in found[:limit]
        ]
        return SearchResult(tools=items, total=len(found), truncated=len(found) > limit)

    def tools_describe(
        ctx: Context[Any, Any],
        names: Annotated[list[str], Field(min_length=1, max_length=20, description="Tool names from tools_search")],
    ) -> DescribeResult:
        """Get tools' full input schema, output schema and annotations before calling them."""
        n = narrowing(ctx)
        found = [index.get(name, n) for name in names]
        return DescribeResult(
            tools=[definition(e) for e in found if e is not None],
            unknown=[name for name, e in zip(names, found, strict=True) if e is None],
        )

    async def call(ctx: Context[Any, Any], name: str, arguments: dict[str, Any], write: bool) -> CallToolResult:
        refused = index.refusal(name, narrowing(ctx))  # unknown here, or outside the token's scopes
        if refused is not None:
            return refused
        entry = index.entries[name]
        if write and entry.read_only:
            return _error(f"{name} only reads: call it with {CALL}")
        if not write and not entry.read_only:
            return _error(f"{name} can change state: call it with {CALL_WRITE}")
        return await run(entry, arguments, ctx)

    Name = Annotated[str, Field(description="Tool name, e.g. from tools_search")]
    Arguments = Annotated[dict[str, Any], Field(description="The tool's arguments, per tools_describe")]

    async def tool_call(ctx: Context[Any, Any], name: Name, arguments: Arguments | None = None) -> CallToolResult:
        """Run a read-only tool by name and return its own result; refuses tools that change state."""
        return await call(ctx, name, arguments or {}, write=False)

    async def tool_call_write(ctx: Context[Any, Any], name: Name, arguments: Arguments | None = None) -> CallToolResult:
        """Run a tool that changes state (write or destructive) by name and return its own result."""
        return await call(ctx, name, arguments or {}, write=True)

    tools_search.__doc__ = f"{tools_search.__doc__} Toolsets here: {toolsets_line(index)}."
    specs = [
        ToolSpec(tools_search, SEARCH, "Search tools", READ),
        ToolSpec(tools_describe, DESCRIBE, "Describe tools", READ),
        ToolSpec(tool_call, CALL, "Call a read-only tool", CALL_READ_ANNOTATIONS),
    ]
    if writes:
        specs.append(ToolSpec(tool_call_write, CALL_WRITE, "Call a tool that changes state", CALL_WRITE_ANNOTATIONS))
    return make_tools(specs, module="discovery", prefix="")
