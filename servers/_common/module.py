"""The module contract: what a tool module declares, and the one generic way to mount it.

A module is a package `servers/<name>/` with three declarations (see servers/README.md):

- `settings.py`: a pydantic `BaseSettings` class (`BAM_<MODULE>_*` variables) and `configured(env)`,
  which says from the environment alone (no client library, no network) why the backend counts as
  configured, or None;
- `tools.py`: `CATALOG = ToolCatalog.of(TOOLSETS, ...)`, its `@tool`-declared functions by toolset;
- `__init__.py`: `MODULE = ModuleInfo.of(__name__, ...)`, naming the above; `resources` (`<package>.client`)
  is the async context manager that yields the module's `ModuleState` (a lazily connected `Backend` that
  never fails to start).

Everything else (which tools a policy exposes, the standalone server, the composite's mounting, toolset
selection, `--servers auto`) is done here and in `composite/`, the same way for every module.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mcp.server.mcpserver.tools import Tool
from pydantic_settings import BaseSettings

from servers._common import manifest
from servers._common.backend import Health
from servers._common.tools import ToolPolicy, ToolSpec, make_tools, spec_of

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


@runtime_checkable
class ModuleState(Protocol):
    """What a module's `resources()` yields: the tools' handle on the backend, probed by /readyz and `doctor`."""

    async def check(self, timeout: float = 2.0) -> Health:
        """Probe the backend within `timeout` seconds; never raises."""
        ...

    async def aclose(self) -> None:
        """Release the backend's connections (idempotent)."""
        ...


Toolsets = Mapping[str, Sequence[Callable[..., Any]]]
"""A module's `@tool` functions by toolset name (`TOOLSETS` in its `tools.py`)."""


@dataclass(frozen=True)
class ToolCatalog:
    """A module's tools (unprefixed names) and its named groups of them."""

    tools: Sequence[ToolSpec]
    toolsets: Mapping[str, tuple[str, ...]]
    """Named groups of tool names, selectable with `--toolsets <module>.<name>`."""
    default_toolsets: tuple[str, ...]
    """The toolsets exposed when `--toolsets` is not given."""
    variants: Sequence[ToolSpec] = ()
    """Alternatives of a tool under one name, most capable first: only the first the policy permits is exposed."""

    @classmethod
    def of(
        cls,
        toolsets: Toolsets,
        default: Sequence[str],
        *,
        order: Sequence[Callable[..., Any]] = (),
        variants: Sequence[Callable[..., Any]] = (),
    ) -> ToolCatalog:
        """The catalog of the `@tool` functions grouped in `toolsets`, in the order clients see them.

        The order is the toolsets' in turn unless `order` lists the same tools otherwise. `variants` are
        alternatives of one tool (most capable first; see `permitted`); a toolset names them as members too.
        """
        members = [fn for fns in toolsets.values() for fn in fns if fn not in variants]
        listed = list(order or members)
        if len(set(listed)) != len(listed) or set(listed) != set(members):
            raise ValueError("the order must list each toolset member exactly once")
        if not set(default) <= set(toolsets):
            raise ValueError(f"unknown default toolsets: {sorted(set(default) - set(toolsets))}")
        names = {ts: tuple(dict.fromkeys(spec_of(fn).name for fn in fns)) for ts, fns in toolsets.items()}
        return cls([spec_of(fn) for fn in listed], names, tuple(default), [spec_of(fn) for fn in variants])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.name for s in [*self.tools, *self.variants]))

    def toolset_of(self, name: str) -> str | None:
        return next((ts for ts, members in self.toolsets.items() if name in members), None)

    def permitted(self, module: str, prefix: str, policy: ToolPolicy) -> list[ToolSpec]:
        """The specs `policy` exposes, in declaration order (one variant per name)."""
        chosen = [s for s in self.tools if policy.permits(module, f"{prefix}{s.name}", s)]
        for name in dict.fromkeys(v.name for v in self.variants):
            options = [v for v in self.variants if v.name == name]
            chosen += next(([v] for v in options if policy.permits(module, f"{prefix}{v.name}", v)), [])
        return chosen


@dataclass(frozen=True)
class ModuleInfo:
    """Everything the composite needs to know about a module, without importing its client library."""

    key: str
    """The module's name: `--servers`, `--allow-writes`, the lifespan state key, metrics labels."""
    prefix: str
    """Prefix of its tool names (`pg_`)."""
    title: str
    summary: str
    """One sentence for the role prompt: what the tool family lets the model do."""
    settings: type[BaseSettings]
    resources: Callable[[], AbstractAsyncContextManager[ModuleState]]
    catalog_module: str
    """Dotted name of the module holding `CATALOG` (imported on first use: it imports every tool)."""
    configured: Callable[[Mapping[str, str]], str | None]
    """Why the backend counts as configured in this environment (a variable or file name), or None."""
    client_env: tuple[str, ...] = ()
    """The ecosystem's variables (besides `BAM_<MODULE>_*`) a client config passes on to the server."""

    @classmethod
    def of(
        cls,
        package: str,
        settings: type[BaseSettings],
        configured: Callable[[Mapping[str, str]], str | None],
        *,
        prefix: str,
        title: str,
        summary: str,
        client_env: tuple[str, ...] = (),
    ) -> ModuleInfo:
        """The declaration of the module package `package` (its `__name__`, `servers.<key>`): the resources are
        `<package>.client.resources` and the catalog `<package>.tools.CATALOG`, both imported when used."""
        return cls(
            key=package.rpartition(".")[2],
            prefix=prefix,
            title=title,
            summary=summary,
            settings=settings,
            resources=client_resources(package),
            catalog_module=f"{package}.tools",
            configured=configured,
            client_env=client_env,
        )

    @property
    def env_prefix(self) -> str:
        """The prefix of the module's own variables (`BAM_PG_`)."""
        return str(self.settings.model_config.get("env_prefix", ""))

    def catalog(self) -> ToolCatalog:
        catalog = importlib.import_module(self.catalog_module).CATALOG
        if not isinstance(catalog, ToolCatalog):
            raise TypeError(f"{self.catalog_module}.CATALOG is not a ToolCatalog")
        return catalog

    def declared_catalog(self) -> ToolCatalog:
        """The catalog as the tool manifest declares it (no tool imported) while it is fresh, else `catalog()`."""
        declared = manifest.declared_module(self.catalog_module)
        if declared is None:
            return self.catalog()
        return ToolCatalog(declared.tools, declared.toolsets, declared.default_toolsets, declared.variants)

    def tools(self, policy: ToolPolicy | None = None, prefix: str | None = None) -> list[Tool]:
        """The tools `policy` (default: read-only) exposes, ready for `MCPServer(tools=...)`.

        Defined by the tool manifest while it is fresh (each built on its first run), else built now.
        """
        pre = self.prefix if prefix is None else prefix
        if pre == self.prefix:
            specs = self.declared_catalog().permitted(self.key, pre, policy or ToolPolicy())
            deferred = manifest.deferred_tools(self, specs)
            if deferred is not None:
                return deferred
        return self.built_tools(policy, pre)

    def built_tools(self, policy: ToolPolicy | None = None, prefix: str | None = None) -> list[Tool]:
        """The tools `policy` exposes, built from the imported tool functions."""
        pre = self.prefix if prefix is None else prefix
        specs = self.catalog().permitted(self.key, pre, policy or ToolPolicy())
        return make_tools(specs, module=self.key, prefix=pre)

    def build_server(self, policy: ToolPolicy | None = None) -> MCPServer[Any]:
        """The module as an MCP server of its own (policy default: `BAM_*` variables)."""
        from servers._common.settings import PolicySettings
        from servers._common.standalone import build_standalone

        return build_standalone(self, self.tools(policy or PolicySettings().policy()))


def client_resources(package: str) -> Callable[..., AbstractAsyncContextManager[ModuleState]]:
    """`<package>.client.resources`, imported on first call: the client is a module's heaviest import, and
    `--servers auto` reads every module's declaration to probe the environment."""

    def resources(settings: BaseSettings | None = None) -> AbstractAsyncContextManager[ModuleState]:
        open_state: Callable[[Any], AbstractAsyncContextManager[ModuleState]]
        open_state = importlib.import_module(f"{package}.client").resources
        return open_state(settings)

    return resources


def first_set(env: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The first of `names` set to a non-blank value in `env` (for `ModuleInfo.configured`)."""
    return next((n for n in names if env.get(n, "").strip()), None)


def first_existing(paths: Sequence[str]) -> str | None:
    """The first of `paths` (`~` expanded) that exists (for `ModuleInfo.configured`)."""
    return next((p for p in paths if p and os.path.exists(os.path.expanduser(p))), None)
