"""Start-up: each module's tool listing from a cache; its real tools are built on the first call.

Registering a module imports its tool functions and has the SDK build a pydantic argument model and the
input/output JSON schemas of every tool: most of the server's start-up time, spent before the first
`tools/list` can be answered. The listing only needs the finished schemas, so after a first full
registration they are kept in a cache file; later starts list the tools from it (`LazyTool`), and the
first call of one of a module's tools registers that module for real on a scratch server and delegates
to the tool built there: exactly what `register` would have produced.

The cache key covers everything a listing depends on: the package and SDK/pydantic/Python versions, the
size and mtime of every source file of the module, of `servers/_common` and of the client libraries, the
exposure policy, the `BAM_*` environment and the prefix. A materialized tool that differs from its cached
listing drops the cache file (and is served as built). `BAM_TOOL_CACHE=off` disables the cache; `BAM_CACHE_DIR` moves it
(default `$XDG_CACHE_HOME/backend-architect-mcp` or `~/.cache/backend-architect-mcp`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import PrivateAttr

from servers._common import ModuleInfo, ToolPolicy
from servers._common.version import VERSION

log = logging.getLogger("backend_architect_mcp.toolcache")
FORMAT = 1
_LIBRARIES = ("asyncpg", "pglast", "redis", "kubernetes", "botocore", "boto3", "docker")


def cache_dir() -> Path | None:
    """Where listings are kept; None when the cache is switched off."""
    if os.environ.get("BAM_TOOL_CACHE", "").strip().lower() in ("0", "off", "false", "no"):
        return None
    base = os.environ.get("BAM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "backend-architect-mcp"
    )
    return Path(base)


def _policy_key(policy: ToolPolicy) -> list[Any]:
    return [
        sorted(policy.allow_writes),
        sorted(policy.allow_admin),
        policy.allow_destructive,
        list(policy.include),
        list(policy.exclude),
    ]


def cache_key(info: ModuleInfo, policy: ToolPolicy) -> str:
    """A digest of everything the module's tool listing depends on."""
    import mcp
    import pydantic

    h = hashlib.sha256()
    meta = [FORMAT, VERSION, getattr(mcp, "__version__", ""), pydantic.VERSION, sys.version, info.key, info.prefix]
    h.update(orjson.dumps([*meta, _policy_key(policy)]))
    common = Path(__file__).resolve().parent.parent / "servers" / "_common"
    package = Path(importlib.import_module(info.register.__module__).__file__ or "").resolve().parent
    for root in (package, common):
        for path in sorted(root.rglob("*.py")):
            st = path.stat()
            h.update(f"{path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    for dist in _LIBRARIES:  # schemas may come from a client library's data (botocore's service models)
        spec = importlib.util.find_spec(dist)
        if spec is not None and spec.origin:
            st = os.stat(spec.origin)
            h.update(f"{spec.origin}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    h.update(orjson.dumps(sorted((k, v) for k, v in os.environ.items() if k.startswith("BAM_"))))
    return h.hexdigest()[:40]


class _Module:
    """Registers one module for real, once, on a scratch server: where a LazyTool finds its tool."""

    def __init__(self, info: ModuleInfo, policy: ToolPolicy, cache_file: Path | None) -> None:
        self.info, self.policy, self.cache_file = info, policy, cache_file
        self.tools: dict[str, Tool] | None = None

    def tool(self, name: str) -> Tool:
        if self.tools is None:
            scratch: MCPServer[Any] = MCPServer(f"{self.info.key}-tools", log_level="WARNING")
            self.info.register(scratch, self.info.prefix, self.policy)
            self.tools = {t.name: t for t in scratch._tool_manager.list_tools()}
        tool = self.tools.get(name)
        if tool is None:
            if self.cache_file is not None:
                self.cache_file.unlink(missing_ok=True)
            raise ToolError(f"tool {name} is no longer provided by this server version; restart the server")
        return tool


class LazyTool(Tool):
    """A tool listed from the cache; the first `run` builds the module's real tools and delegates."""

    _module: _Module | None = PrivateAttr(default=None)
    _real: Tool | None = PrivateAttr(default=None)
    _cached_output_schema: dict[str, Any] | None = PrivateAttr(default=None)

    @property  # type: ignore[override]
    def output_schema(self) -> dict[str, Any] | None:
        return self._cached_output_schema

    def materialize(self) -> Tool:
        if self._real is None:
            assert self._module is not None
            real = self._module.tool(self.name)
            if _entry(real) != _entry(self):
                log.warning("tool %s differs from the cached listing; dropping the cache", self.name)
                if self._module.cache_file is not None:
                    self._module.cache_file.unlink(missing_ok=True)
            self._real = real
        return self._real

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        return await self.materialize().run(*args, **kwargs)


def _not_loaded(**_: Any) -> Any:  # pragma: no cover - LazyTool.run never calls it
    raise RuntimeError("tool not materialized")


def _entry(tool: Tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "title": tool.title,
        "description": tool.description,
        "parameters": tool.parameters,
        "output_schema": tool.output_schema,
        "annotations": tool.annotations.model_dump(mode="json") if tool.annotations else None,
        "meta": tool.meta,
    }


def _lazy(entry: dict[str, Any], module: _Module) -> LazyTool:
    annotations = entry["annotations"]
    tool = LazyTool.model_construct(
        fn=_not_loaded,
        name=entry["name"],
        title=entry["title"],
        description=entry["description"],
        parameters=entry["parameters"],
        fn_metadata=None,  # type: ignore[arg-type]  # built by the real tool on first call
        is_async=True,
        context_kwarg=None,
        annotations=ToolAnnotations.model_validate(annotations) if annotations is not None else None,
        icons=None,
        meta=entry["meta"],
    )
    tool._module = module
    tool._cached_output_schema = entry["output_schema"]
    return tool


def _write(path: Path, entries: list[dict[str, Any]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tools-", suffix=".json")
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(entries))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: start uncached, never fail
        log.debug("tool cache not written: %s", exc)


def _add(server: MCPServer[Any], tool: Tool) -> None:
    """Add a ready `Tool` object (the SDK only adds tools built from functions)."""
    server._tool_manager._tools[tool.name] = tool


def register_module(server: MCPServer[Any], info: ModuleInfo, policy: ToolPolicy) -> list[str]:
    """`info.register(server, info.prefix, policy)`, listed from the cache when it is current."""
    base = cache_dir()
    path = base / f"{info.key}-{cache_key(info, policy)}.json" if base is not None else None
    entries = _load(path)
    if entries is None:
        names = info.register(server, info.prefix, policy)
        if path is not None:
            _write(path, [_entry(t) for n in names if (t := server._tool_manager.get_tool(n)) is not None])
        return names
    module = _Module(info, policy, path)
    for entry in entries:
        _add(server, _lazy(entry, module))
    return [e["name"] for e in entries]


def _load(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, list) else None
