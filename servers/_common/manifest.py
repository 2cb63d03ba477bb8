"""The tool manifest: every module tool's definition, packaged, so start-up lists tools without building them.

Building a module tool's SDK `Tool` imports the module's tools (and their pydantic result models) and
generates its JSON schemas: most of the server's start-up. The definitions change only when the code does,
so `tool_manifest.json` holds them for every tool of every module (all tiers and variants, whatever the
policy), with the fingerprint of what they were generated from. While the fingerprint matches:

- `ModuleInfo.declared_catalog()` is the module's catalog read from the manifest (no tool module imported),
  and the same policy code (`ToolCatalog.permitted`, toolsets, `--tools`, ...) filters it as it would the
  imported one;
- `ModuleInfo.tools()` gives `DeferredTool`s: SDK tools listed from the manifest's definitions, each built
  for real (imported, schemas generated) the first time it runs.

When it does not (a source changed and the manifest was not regenerated, or another pydantic or SDK),
everything is built from the code as before: slower, never different. `tests/servers/_common/test_manifest.py`
fails while the manifest is stale; regenerate it with `make manifest`.

The fingerprint covers the `.py` files under `servers/` (the tool functions, their models, `make_tools`'
lean schemas) and what generates the schemas from them: pydantic's and pydantic-core's versions and the SDK's
`Tool.from_function` and `func_metadata` sources. `composite/` only filters and serves the module tools.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pydantic
import pydantic_core
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.tools import base as sdk_tool_base
from mcp.server.mcpserver.utilities import func_metadata as sdk_func_metadata
from mcp_types import ToolAnnotations

from servers._common.tools import ToolSpec, make_tools

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from servers._common.module import ModuleInfo

log = logging.getLogger("backend_architect_mcp.manifest")

MANIFEST = Path(__file__).with_name("tool_manifest.json")
SOURCES = Path(__file__).resolve().parents[1]
"""The `servers` package: every `.py` file under it is part of the fingerprint."""


def fingerprint(root: Path = SOURCES) -> str:
    """The hash of what the tool definitions are generated from (a few ms: about 100 small files)."""
    python = ".".join(map(str, sys.version_info[:2]))  # 3.13 strips docstring indentation: descriptions differ
    head = f"python {python} pydantic {pydantic.VERSION} {pydantic_core.__version__} {' '.join(_sdk_releases())}\n"
    h = hashlib.sha256(head.encode())
    for module in (sdk_tool_base, sdk_func_metadata):
        h.update(Path(str(module.__file__)).read_bytes())
    for rel in _sources(root):
        h.update(f"\0{rel}\0".encode())
        h.update((root / rel).read_bytes().replace(b"\r\n", b"\n"))
    return h.hexdigest()


def _sdk_releases() -> list[str]:
    """The installed SDK distributions (`mcp-X.dist-info`, `mcp_types-X.dist-info`): the directory beside the
    package lists them (importlib.metadata would cost ~60 ms of start-up)."""
    site = Path(str(sdk_tool_base.__file__)).parents[4]
    return sorted(n for n in os.listdir(site) if n.startswith(("mcp-", "mcp_types-")) and n.endswith(".dist-info"))


def _sources(root: Path) -> list[str]:
    """The `.py` files under `root` as sorted relative POSIX paths (os.walk: pathlib's rglob costs 20 ms)."""
    out = []
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = Path(top).relative_to(root).as_posix()
        out += [f if rel == "." else f"{rel}/{f}" for f in files if f.endswith(".py")]
    return sorted(out)


@dataclass(frozen=True, eq=False)
class Declared:
    """`ToolSpec.fn` of a catalog read from the manifest: names the tool function, which is not imported yet."""

    catalog_module: str
    variant: bool
    index: int
    """Its position in the imported catalog's `tools` (or `variants`)."""
    entry: Mapping[str, Any] = field(repr=False)
    """Its definition in the manifest."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.catalog_module} is not imported: run the tool's DeferredTool instead")


@dataclass(frozen=True)
class DeclaredModule:
    """A module's catalog as the manifest holds it (`ToolCatalog` fields, specs with `Declared` functions)."""

    tools: list[ToolSpec]
    toolsets: dict[str, tuple[str, ...]]
    default_toolsets: tuple[str, ...]
    variants: list[ToolSpec]


class DeferredTool(Tool):
    """A module tool defined by the manifest: listed as it is, built for real the first time it runs.

    It relies on the SDK's public `Tool` surface only: the listing reads the definition fields and
    `output_schema`, a call goes through `run` (tests/servers/_common/test_manifest.py checks both).
    """

    declared_output_schema: dict[str, Any] | None = None
    loader: Callable[[], Tool]

    @cached_property
    def output_schema(self) -> dict[str, Any] | None:
        return self.declared_output_schema

    def loaded(self) -> Tool:
        """The tool built from its function (imports the module's tools on first use; then cached)."""
        return self.loader()

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        return await self.loaded().run(arguments, context, convert_result=convert_result)


@functools.cache
def _manifest() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = orjson.loads(MANIFEST.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        log.info("no tool manifest: building every tool at start-up")
        return None
    if data.get("fingerprint") != fingerprint():
        log.info("the tool manifest is stale (run `make manifest`): building every tool at start-up")
        return None
    return data


@functools.cache
def declared_module(catalog_module: str) -> DeclaredModule | None:
    """The catalog of `catalog_module` from a fresh manifest, or None (stale, or not in it)."""
    manifest = _manifest()
    data = manifest["modules"].get(catalog_module) if manifest is not None else None
    if data is None:
        return None

    def specs(entries: list[dict[str, Any]], variant: bool) -> list[ToolSpec]:
        return [
            ToolSpec(
                Declared(catalog_module, variant, i, e),
                e["name"],
                e["title"],
                ToolAnnotations.model_validate(e["annotations"]),
                e["level"],
            )
            for i, e in enumerate(entries)
        ]

    return DeclaredModule(
        specs(data["tools"], False),
        {ts: tuple(names) for ts, names in data["toolsets"].items()},
        tuple(data["default"]),
        specs(data["variants"], True),
    )


def deferred_tools(info: ModuleInfo, specs: list[ToolSpec]) -> list[Tool] | None:
    """`DeferredTool`s for `specs` of `info.declared_catalog()`, or None when one is not from the manifest."""
    if not all(isinstance(s.fn, Declared) for s in specs):
        return None
    return [_deferred(info, s) for s in specs]


def _deferred(info: ModuleInfo, spec: ToolSpec) -> Tool:
    declared = spec.fn
    assert isinstance(declared, Declared)
    e = declared.entry

    @functools.cache
    def load() -> Tool:
        catalog = info.catalog()
        real = (catalog.variants if declared.variant else catalog.tools)[declared.index]
        if real.name != spec.name:
            raise RuntimeError(f"the tool manifest does not match {info.catalog_module}: run `make manifest`")
        return make_tools([real], module=info.key, prefix=info.prefix)[0]

    fields: dict[str, Any] = {
        "fn": declared,
        "name": f"{info.prefix}{spec.name}",
        "title": spec.title,
        "description": e["description"],
        "parameters": e["input_schema"],
        "annotations": spec.annotations,
        "meta": {"module": info.key, "level": spec.level},
        "declared_output_schema": e["output_schema"],
        "loader": load,
    }
    # `fn_metadata` and `is_async` stay unset (building them is what is deferred): only `run` reads them.
    return DeferredTool.model_construct(**fields)


# --- generation ---------------------------------------------------------------------------------------------


def _entry(info: ModuleInfo, spec: ToolSpec) -> dict[str, Any]:
    tool = make_tools([spec], module=info.key, prefix=info.prefix)[0]
    return {
        "name": spec.name,
        "title": spec.title,
        "level": spec.level,
        "annotations": spec.annotations.model_dump(mode="json", by_alias=True, exclude_none=True),
        "description": tool.description,
        "input_schema": tool.parameters,
        "output_schema": tool.output_schema,
    }


def generate() -> dict[str, Any]:
    """The manifest of every module's tools, built from the code (imports every module's tools)."""
    from servers.registry import MODULES, load

    modules: dict[str, Any] = {}
    for key in MODULES:
        info = load(key)
        catalog = info.catalog()
        modules[info.catalog_module] = {
            "toolsets": {ts: list(names) for ts, names in catalog.toolsets.items()},
            "default": list(catalog.default_toolsets),
            "tools": [_entry(info, s) for s in catalog.tools],
            "variants": [_entry(info, s) for s in catalog.variants],
        }
    return {"fingerprint": fingerprint(), "modules": modules}


def render(manifest: Mapping[str, Any]) -> bytes:
    """The manifest file's bytes, indented so a regenerated file diffs by tool (key order is list order)."""
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"


def main() -> None:
    MANIFEST.write_bytes(render(generate()))
    sys.stderr.write(f"wrote {MANIFEST}\n")
