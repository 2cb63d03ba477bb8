"""The tool contract: how a module declares tools, and the one place that decides which are exposed.

A module lists its tools as `ToolSpec`s. Whether a tool is exposed is decided here, from its
annotations alone: read-only tools always; write tools only when writes are allowed for the module;
destructive tools only when writes are allowed and destructive tools are not switched off; admin tools
only when admin is allowed for the module. Glob filters (`--tools`, `--exclude-tools`) apply last.
Tools that are not allowed are never registered, so a client never sees them.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import orjson
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from servers._common.sdk import lowlevel


class Effect(StrEnum):
    """What a tool does to its backend: the one input of the annotation rule (`annotations_for`).

    destructive = may lose data or availability (delete, overwrite, scale down, roll back, restart, flush,
    prune, stop, arbitrary commands); idempotent = repeating the call changes nothing more (reads, sets,
    overwrites to a given value, deletes).
    """

    READ = "read"
    """Reads only."""
    ADD = "add"
    """Adds state and loses none; a repeat adds again (run, push onto a list, append, create)."""
    SET = "set"
    """Sets state to a given value and loses none (start, cordon, add a set member, tag, rehearse)."""
    OVERWRITE = "overwrite"
    """Replaces existing data or configuration with a given value (set a key, apply, scale, upload, TTL)."""
    DELETE = "delete"
    """Removes data or objects (delete, remove, prune, acknowledge)."""
    STOP = "stop"
    """Takes something out of service (stop, pause)."""
    DISRUPT = "disrupt"
    """Loses data or availability and a repeat does it again (restart, roll back, pop)."""
    ARBITRARY = "arbitrary"
    """Runs whatever it is given (a SQL statement, a raw command, any API operation, exec)."""


_DESTRUCTIVE_EFFECTS = frozenset({Effect.OVERWRITE, Effect.DELETE, Effect.STOP, Effect.DISRUPT, Effect.ARBITRARY})
_IDEMPOTENT_EFFECTS = frozenset({Effect.READ, Effect.SET, Effect.OVERWRITE, Effect.DELETE, Effect.STOP})


def annotations_for(effect: Effect, *, open_world: bool = False) -> ToolAnnotations:
    """The annotations a tool with this effect must carry; exposure (`ToolPolicy`) is decided from them."""
    return ToolAnnotations(
        read_only_hint=effect is Effect.READ,
        destructive_hint=effect in _DESTRUCTIVE_EFFECTS,
        idempotent_hint=effect in _IDEMPOTENT_EFFECTS,
        open_world_hint=open_world,
    )


READ = annotations_for(Effect.READ)
"""Reads state of a backend we own the connection to."""
READ_OPEN = annotations_for(Effect.READ, open_world=True)
"""Reads from an open world (cloud APIs, clusters, registries)."""
WRITE = annotations_for(Effect.ADD)
WRITE_IDEMPOTENT = annotations_for(Effect.SET)
OVERWRITE = annotations_for(Effect.OVERWRITE)
DELETE = annotations_for(Effect.DELETE)
STOP = annotations_for(Effect.STOP)
DISRUPT = annotations_for(Effect.DISRUPT)
DESTRUCTIVE = annotations_for(Effect.ARBITRARY)
"""Runs arbitrary statements or commands."""
ADMIN = "admin"
"""`ToolSpec.level` of tools that need an explicit admin setting (arbitrary commands, exec)."""

WILDCARD = "*"


def open_world(a: ToolAnnotations) -> ToolAnnotations:
    """The same annotations with `open_world_hint=True`."""
    return a.model_copy(update={"open_world_hint": True})


@dataclass(frozen=True)
class ToolSpec:
    """One tool of a module: the function is the schema, the docstring the description."""

    fn: Callable[..., Any]
    name: str
    title: str
    annotations: ToolAnnotations
    level: str = "normal"

    @property
    def is_write(self) -> bool:
        return not bool(self.annotations.read_only_hint)

    @property
    def is_destructive(self) -> bool:
        return self.is_write and bool(self.annotations.destructive_hint)


_DECLARATION = "__bam_tool__"

F = TypeVar("F", bound=Callable[..., Any])


def tool(title: str, annotations: ToolAnnotations, *, level: str = "normal", name: str = "") -> Callable[[F], F]:
    """Declare the decorated function a tool: its title, annotations and level, next to its definition.

    The tool's name is the function's name without the module prefix (`pg_schemas_list` → `schemas_list`)
    unless `name` is given. The module's `tools.py` lists the declared functions by toolset (`ToolCatalog.of`).
    """

    def declare(fn: F) -> F:
        spec = ToolSpec(fn, name or fn.__name__.partition("_")[2], title, annotations, level)
        setattr(fn, _DECLARATION, spec)
        return fn

    return declare


def spec_of(fn: Callable[..., Any]) -> ToolSpec:
    """The `ToolSpec` that `@tool` declared on `fn`."""
    spec = getattr(fn, _DECLARATION, None)
    if not isinstance(spec, ToolSpec) or spec.fn is not fn:
        raise TypeError(f"{getattr(fn, '__qualname__', fn)!r} is not declared with @tool (outermost decorator)")
    return spec


def _matches(module: str, allowed: frozenset[str]) -> bool:
    return WILDCARD in allowed or module in allowed


@dataclass(frozen=True)
class ToolPolicy:
    """Which tools may be exposed. The default is read-only everywhere."""

    allow_writes: frozenset[str] = frozenset()
    allow_admin: frozenset[str] = frozenset()
    allow_destructive: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    """Full tool names selected by toolsets (`None`: no toolset restriction)."""

    def permits(self, module: str, full_name: str, spec: ToolSpec) -> bool:
        if self.only is not None and full_name not in self.only:
            return False
        if spec.is_write and not _matches(module, self.allow_writes):
            return False
        if spec.is_destructive and not self.allow_destructive:
            return False
        if spec.level == ADMIN and not _matches(module, self.allow_admin):
            return False
        if self.include and not any(fnmatch.fnmatchcase(full_name, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatchcase(full_name, g) for g in self.exclude)

    def writes_allowed(self, module: str) -> bool:
        return _matches(module, self.allow_writes)

    def admin_allowed(self, module: str) -> bool:
        return _matches(module, self.allow_admin)


def make_tools(specs: Iterable[ToolSpec], *, module: str, prefix: str) -> list[Tool]:
    """The specs as tools named `<prefix><name>`, with lean definitions (for `MCPServer(tools=...)`)."""
    tools = []
    for spec in specs:
        tool = Tool.from_function(
            spec.fn,
            name=f"{prefix}{spec.name}",
            title=spec.title,
            description=lean_description(spec.fn.__doc__ or ""),
            annotations=spec.annotations,
            meta={"module": module, "level": spec.level},
        )
        tool.parameters = lean_schema(inline_defs(tool.parameters), inputs=True)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = lean_schema(tool.fn_metadata.output_schema, inputs=False)
        tools.append(tool)
    return tools


def lean_description(doc: str) -> str:
    """A docstring as a tool description: no indentation, wrapped lines of a paragraph joined."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    out = []
    for para in paragraphs:
        lines = [ln.strip() for ln in para.splitlines() if ln.strip()]
        joined = lines[:1]
        for ln in lines[1:]:  # keep list items on their own line
            if ln.startswith(("- ", "* ")) or _LIST_ITEM.match(ln):
                joined.append(ln)
            else:
                joined[-1] += " " + ln
        out.append("\n".join(joined))
    return "\n\n".join(p for p in out if p)


PLAIN_PARAMETERS = frozenset(
    {
        # what the tool's own name and description make plain
        "name", "key", "keys", "value", "fields", "members", "ids", "message", "channel", "group", "node",
        "bucket", "container", "image", "network", "namespace", "directory", "plan_id", "labels", "env",
        "user", "working_dir", "entrypoint", "driver", "replicas", "timestamps", "dry_run", "all_namespaces",
        "privileged", "cap_add", "pids_limit", "read_only_rootfs", "no_cache",
        # paging: the result names the value to pass back
        "limit", "max_items", "offset", "cursor", "next_token", "continue_token", "resume_token",
        # where to run: every tool of the module takes them the same way
        "context", "region", "profile", "role_arn",
    }
)  # fmt: skip
"""Parameter names that may go without a description: it would only repeat the name and cost tokens on
every turn. Any other parameter, and one whose meaning here is not the plain one, says what it takes."""


_LIST_ITEM = re.compile(r"^\d+[.)] ")
_DEFAULT_NOTE = re.compile(r"\s*\((?:defaults?\b[^()]*|[^()]*\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b[^()]*)\)")
"""`(default ...)` notes and notes naming an operator's variable (`(only ARNs in BAM_...)`)."""
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def lean_schema(schema: Any, *, inputs: bool) -> Any:
    """The same JSON Schema with what costs tokens and tells the model nothing removed.

    Always: pydantic's auto-generated `title`s and `default: null`, and `anyOf` of bare types becomes a
    type list. For input schemas also: the `anyOf [X, null]` wrapper of optional parameters (omitting the
    parameter is how to say "none"), and `(default ...)` notes (the server-side default applies when
    omitted) and notes naming the operator's environment variables in parameter descriptions. Output
    schemas keep their null alternatives (a result field may really be null) but lose field descriptions.
    """
    if not isinstance(schema, dict):
        return schema
    s: dict[str, Any] = {k: v for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if "default" in s and s["default"] is None:
        del s["default"]
        alts = s.get("anyOf")
        if inputs and isinstance(alts, list):
            rest = [a for a in alts if a != {"type": "null"}]
            if len(rest) == 1 and len(rest) < len(alts) and isinstance(rest[0], dict):
                del s["anyOf"]
                s = {**rest[0], **s}
    alts = s.get("anyOf")
    if isinstance(alts, list) and alts and all(_is_bare_type(a) for a in alts):
        del s["anyOf"]  # {"anyOf": [{"type": "string"}, {"type": "null"}]} says {"type": ["string", "null"]}
        s = {"type": [a["type"] for a in alts], **s}
    elif inputs and isinstance(alts, list) and len(alts) == 2 and {"type": "null"} in alts:
        s = _nullable(s, alts)
    if inputs and isinstance(s.get("description"), str):
        s["description"] = _DEFAULT_NOTE.sub("", s["description"]).strip()
    elif not inputs and isinstance(s.get("description"), str) and isinstance(s.get("type"), str | list):
        del s["description"]  # field names and the result's own hints say it; the list is sent every session
    for key, value in list(s.items()):
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            s[key] = {n: lean_schema(v, inputs=inputs) for n, v in value.items()}
        elif key in _SUBSCHEMAS and isinstance(value, dict):
            s[key] = lean_schema(value, inputs=inputs)
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            s[key] = [lean_schema(v, inputs=inputs) for v in value]
    return _drop_obvious(s) if inputs else s


def _nullable(s: dict[str, Any], alts: list[Any]) -> dict[str, Any]:
    """`anyOf [X, null]` with X of one type (bounds too) as X with the type list `[t, "null"]`."""
    other = next(a for a in alts if a != {"type": "null"})
    if not isinstance(other, dict) or not isinstance(other.get("type"), str) or set(other) & set(s) - {"anyOf"}:
        return s
    merged = {k: v for k, v in s.items() if k != "anyOf"}
    return {**other, "type": [other["type"], "null"], **merged}


_LONG_TEXT = 128
"""A `maxLength` from this on bounds what no real name or reference reaches (a guard the server applies)."""


def _obvious(key: str, value: Any) -> bool:
    """What a model assumes or knows: `false`/`0` defaults, counts ≥ 0 or 1, any items/keys, guard rails.

    Guard rails are the `pattern` of identifiers (the model passes names it was given; the server checks them
    by the backend's own rule and says what is wrong) and length caps no real value reaches.
    """
    if key == "default":
        return value is False or (type(value) is int and value == 0)
    if key == "minimum":
        return type(value) is int and value in (0, 1)
    if key in ("minLength", "minItems", "minProperties"):  # nobody sends an empty name or list on purpose
        return type(value) is int and value in (0, 1)
    if key == "exclusiveMinimum":
        return type(value) is int and value == 0
    if key == "pattern":
        return isinstance(value, str)
    if key == "maxLength":
        return type(value) is int and value >= _LONG_TEXT
    return (key == "items" and value == {}) or (key == "additionalProperties" and value is True)


def inline_defs(schema: Any) -> Any:
    """The schema with each `$defs` entry used once (and not recursive) written in place of its `$ref`.

    A shared definition used once costs its name twice and a reference path; some clients resolve no `$ref`.
    """
    if not isinstance(schema, dict) or not isinstance(schema.get("$defs"), dict):
        return schema
    defs: dict[str, Any] = schema["$defs"]
    text = orjson.dumps(schema).decode()
    once = {n for n in defs if text.count(f'"#/$defs/{n}"') == 1 and "#/$defs/" not in orjson.dumps(defs[n]).decode()}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix("#/$defs/") in once:
            return {**defs[ref.removeprefix("#/$defs/")], **{k: walk(v) for k, v in node.items() if k != "$ref"}}
        return {k: walk(v) for k, v in node.items() if k != "$defs"}

    out: dict[str, Any] = walk(schema)
    rest = {n: d for n, d in defs.items() if n not in once}
    return {**out, "$defs": rest} if rest else out


def _drop_obvious(s: dict[str, Any]) -> dict[str, Any]:
    """Drop the keywords that cost tokens and tell the model nothing (validation still applies)."""
    return {k: v for k, v in s.items() if not _obvious(k, v)}


def _is_bare_type(schema: Any) -> bool:
    return isinstance(schema, dict) and list(schema) == ["type"] and isinstance(schema["type"], str)


def structured_result(data: dict[str, Any], text: str | None = None) -> CallToolResult:
    """A structured tool result from JSON-ready `data`, its text block the compact JSON serialised once
    (`text`: that JSON, when the caller has it already).

    For tools with large results (row pages): declare the return type `Annotated[CallToolResult, Model]`, so
    the output schema is still `Model`'s and the SDK checks `data` against it, without building a model
    that is then dumped again.
    """
    text = orjson.dumps(data).decode() if text is None else text
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def install_lean_results(server: MCPServer[Any]) -> None:
    """Answer `tools/call` with the wire form of the result (`wire_result`), through the public handler API.

    On 2026-era connections every result carries the server's identity in `_meta` (spec #3002); the SDK
    stamps a deep copy of the whole `serverInfo` (title and description included) into each one. A tool
    result is stamped here with the identity itself, name and version, shared by all results: it is only
    ever serialised.
    """
    low = lowlevel(server)
    entry = low.get_request_handler("tools/call")
    if entry is None:  # pragma: no cover - MCPServer always registers it
        raise RuntimeError("the server has no tools/call handler")
    handler = entry.handler
    stamp = {SERVER_INFO_META_KEY: {"name": low.name, "version": low.version or ""}}

    async def call_tool(ctx: Any, params: Any) -> Any:
        result = await handler(ctx, params)
        if not isinstance(result, CallToolResult):
            return result
        out = wire_result(result)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS and "_meta" not in out:
            out["_meta"] = stamp
        return out

    low.add_request_handler("tools/call", entry.params_type, call_tool)


def skip_idle_tracing(server: MCPServer[Any]) -> None:
    """Drop the SDK's OpenTelemetry middleware when no tracer provider is installed (tracing is set up
    before the server is built: `composite.metrics.configure_tracing`); its span per request then records
    nothing and costs a few percent of a small call."""
    from mcp.server._otel import OpenTelemetryMiddleware
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        chain = server.middleware
        chain[:] = [m for m in chain if not isinstance(m, OpenTelemetryMiddleware)]


def wire_result(result: CallToolResult) -> dict[str, Any]:
    """A tool result as its JSON-RPC result object, the text copy of structured content as compact JSON.

    The SDK pretty-prints the text copy of a structured result; the model reads that copy, so the
    indentation costs tokens on every call. `structuredContent` stays the canonical result and goes out as
    it is: the SDK's result surface check dumps it to JSON once more anyway, so dumping it here as well
    (what returning the model would do) doubles the cost of a large result for nothing.
    """
    structured = result.structured_content
    if structured is None:
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    content = [_compact_block(b) for b in result.content]
    if any(new is not old for new, old in zip(content, result.content, strict=True)):
        result = result.model_copy(update={"content": content})
    out = result.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"structured_content"})
    out["structuredContent"] = structured
    return out


def _compact_block(block: Any) -> Any:
    """A text block holding indented JSON as the same JSON without whitespace; any other block as it is."""
    if not isinstance(block, TextContent) or "\n" not in block.text:
        return block
    try:
        parsed = orjson.loads(block.text)
    except orjson.JSONDecodeError:
        return block
    return block.model_copy(update={"text": orjson.dumps(parsed).decode()})


def lifespan_state(ctx: Context[Any, Any], key: str) -> Any:
    """The object a module's `resources()` yielded, as stored under `key` by the lifespan."""
    state = ctx.request_context.lifespan_context
    if isinstance(state, Mapping) and key in state:
        return state[key]
    raise ToolError(f"the {key} module is not mounted in this server (its resources were not opened)")


def csv_items(value: str) -> tuple[str, ...]:
    """A comma-separated setting as its non-blank items."""
    return tuple(p.strip() for p in value.split(",") if p.strip())


def make_policy(
    *,
    allow_writes: str = "",
    allow_admin: str = "",
    allow_destructive: bool = True,
    tools: str = "",
    exclude_tools: str = "",
) -> ToolPolicy:
    """Build a policy from the comma-separated forms used by flags and environment variables.

    `allow_writes`/`allow_admin` take module names, `*` or `all`; `true`/`1` mean all modules.
    """

    def modules(v: str) -> frozenset[str]:
        if v.strip().lower() in ("*", "all", "true", "1", "yes"):
            return frozenset({WILDCARD})
        if v.strip().lower() in ("", "false", "0", "no", "none"):
            return frozenset()
        return frozenset(csv_items(v))

    return ToolPolicy(
        allow_writes=modules(allow_writes),
        allow_admin=modules(allow_admin),
        allow_destructive=allow_destructive,
        include=csv_items(tools),
        exclude=csv_items(exclude_tools),
    )
