"""Choosing modules: names and aliases from the command line, `--servers auto`, toolsets (list: servers/registry.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from servers._common.module import ToolCatalog
from servers.registry import ALIASES, MODULES, load


def normalize(names: str | list[str] | None) -> list[str]:
    """Module names from `postgres,redis` (aliases allowed); all of them when empty or `all`."""
    if names is None:
        return list(MODULES)
    parts = [p.strip().lower() for p in (names.split(",") if isinstance(names, str) else names) if p.strip()]
    if not parts or parts == ["all"]:
        return list(MODULES)
    out: list[str] = []
    for p in parts:
        key = ALIASES.get(p, p)
        if key not in MODULES:
            raise ValueError(f"unknown module {p!r}; choose from {', '.join(MODULES)}")
        if key not in out:
            out.append(key)
    return out


def normalize_policy_modules(value: str) -> str:
    """Map aliases inside an `--allow-writes` value (`pg,k8s` -> `postgres,kubernetes`)."""
    if value.strip().lower() in ("", "*", "all", "true", "1", "yes", "false", "0", "no", "none"):
        return value
    return ",".join(normalize(value))


def configured_reason(module: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why `module`'s backend counts as configured (a variable or file name), or None (its `MODULE.configured`).

    Reads only the environment and whether files exist: no client library, no network.
    """
    return load(module).configured(os.environ if env is None else env)


def resolve_servers(value: str, env: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The modules to mount, in canonical order, and why each was chosen.

    `auto` (the default) mounts the modules whose backend is configured, or all of them when none is
    (so a bare client still sees what exists and each tool's error names the variable to set).
    """
    if value.strip().lower() not in ("", "auto"):
        chosen = normalize(value)
        return [m for m in MODULES if m in chosen], dict.fromkeys(chosen, "--servers")
    reasons = {m: r for m in MODULES if (r := configured_reason(m, env))}
    if not reasons:
        return list(MODULES), dict.fromkeys(MODULES, "no backend configured: mounting all")
    return list(reasons), reasons


# --- toolsets -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleTools:
    """A mounted module's declared tools and toolsets (unprefixed names), from its `ToolCatalog`."""

    key: str
    prefix: str
    catalog: ToolCatalog

    @property
    def names(self) -> tuple[str, ...]:
        return self.catalog.names

    @property
    def toolsets(self) -> Mapping[str, tuple[str, ...]]:
        return self.catalog.toolsets

    @property
    def default(self) -> tuple[str, ...]:
        return self.catalog.default_toolsets

    def toolset_of(self, name: str) -> str | None:
        return self.catalog.toolset_of(name)


def module_tools(name: str) -> ModuleTools:
    info = load(name)
    return ModuleTools(name, info.prefix, info.declared_catalog())


def resolve_toolsets(selection: str, catalog: list[ModuleTools]) -> set[tuple[str, str]]:
    """(module, toolset) pairs named by `default`, `all`, `<module>`, `<module>.<toolset>` (comma-separated)."""
    by_key = {m.key: m for m in catalog}
    out: set[tuple[str, str]] = set()
    for raw in [p.strip().lower() for p in selection.split(",") if p.strip()] or ["default"]:
        if raw in ("all", "*"):
            out |= {(m.key, ts) for m in catalog for ts in m.toolsets}
        elif raw == "default":
            out |= {(m.key, ts) for m in catalog for ts in m.default}
        else:
            mod, _, ts = raw.partition(".")
            key = ALIASES.get(mod, mod)
            if key not in MODULES:
                raise ValueError(f"unknown toolset {raw[:60]!r}: use default, all, <module> or <module>.<toolset>")
            if key not in by_key:
                continue  # a module that is not mounted: nothing to select
            sets = by_key[key].toolsets
            if ts and ts not in sets:
                raise ValueError(f"unknown toolset {raw[:60]!r}; {key} has {', '.join(sets)}")
            out |= {(key, t) for t in ([ts] if ts else list(sets))}
    return out


def toolset_tool_names(selected: set[tuple[str, str]], catalog: list[ModuleTools]) -> frozenset[str]:
    """Full (prefixed) tool names of the selected toolsets."""
    return frozenset(
        f"{m.prefix}{n}"
        for m in catalog
        for ts, members in m.toolsets.items()
        if (m.key, ts) in selected
        for n in members
    )
