"""The module registry: names, the packages that implement them, imported only when enabled."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from servers._common import ModuleInfo

MODULE_PACKAGES: dict[str, str] = {
    "postgres": "servers.postgres",
    "redis": "servers.redis",
    "kubernetes": "servers.kubernetes",
    "aws": "servers.aws",
    "docker": "servers.docker",
}
ALIASES = {"pg": "postgres", "postgresql": "postgres", "k8s": "kubernetes", "kube": "kubernetes"}


def normalize(names: str | list[str] | None) -> list[str]:
    """Module names from `postgres,redis` (aliases allowed); all of them when empty or `all`."""
    if names is None:
        return list(MODULE_PACKAGES)
    parts = [p.strip().lower() for p in (names.split(",") if isinstance(names, str) else names) if p.strip()]
    if not parts or parts == ["all"]:
        return list(MODULE_PACKAGES)
    out: list[str] = []
    for p in parts:
        key = ALIASES.get(p, p)
        if key not in MODULE_PACKAGES:
            raise ValueError(f"unknown module {p!r}; choose from {', '.join(MODULE_PACKAGES)}")
        if key not in out:
            out.append(key)
    return out


def load(name: str) -> ModuleInfo:
    """The module's `MODULE` description (imports its package, not its client library)."""
    info = importlib.import_module(MODULE_PACKAGES[name]).MODULE
    assert isinstance(info, ModuleInfo)
    return info


def normalize_policy_modules(value: str) -> str:
    """Map aliases inside an `--allow-writes` value (`pg,k8s` -> `postgres,kubernetes`)."""
    if value.strip().lower() in ("", "*", "all", "true", "1", "yes", "false", "0", "no", "none"):
        return value
    return ",".join(normalize(value))


# --- which modules have a configured backend (`--servers auto`) -------------------------------------------

DOCKER_SOCKETS = "/var/run/docker.sock"
"""The socket the docker module uses when DOCKER_HOST is unset; `BAM_DOCKER_SOCKETS` replaces the list probed."""
IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_PG_VARS = (
    "DATABASE_URL",
    "BAM_PG_DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSERVICE",
)
_REDIS_VARS = ("REDIS_URL", "BAM_REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS")
_AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "BAM_AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "BAM_AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def _first_set(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if env.get(n, "").strip()), None)


def _existing(paths: list[str]) -> str | None:
    return next((p for p in paths if p and os.path.exists(os.path.expanduser(p))), None)


def configured_reason(module: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why `module`'s backend counts as configured (a variable or file name), or None.

    Reads only the environment and whether files exist: no client library, no network.
    """
    env = os.environ if env is None else env
    if module == "postgres":
        return _first_set(env, _PG_VARS)
    if module == "redis":
        return _first_set(env, _REDIS_VARS)
    if module == "kubernetes":
        var = _first_set(env, ("KUBECONFIG", "BAM_K8S_KUBECONFIG"))
        if var:
            return var
        if env.get("KUBERNETES_SERVICE_HOST") and os.path.exists(IN_CLUSTER_TOKEN):
            return "in-cluster service account"
        return _existing([str(Path(env.get("HOME", "~")) / ".kube" / "config")])
    if module == "docker":
        var = _first_set(env, ("DOCKER_HOST", "BAM_DOCKER_HOST"))
        return var or _existing(env.get("BAM_DOCKER_SOCKETS", DOCKER_SOCKETS).split(","))
    if module == "aws":
        var = _first_set(env, _AWS_VARS)
        if var:
            return var
        home = env.get("HOME", "~")
        files = [env.get("AWS_SHARED_CREDENTIALS_FILE", ""), env.get("AWS_CONFIG_FILE", "")]
        return _existing([*files, f"{home}/.aws/credentials", f"{home}/.aws/config"])
    raise ValueError(f"unknown module {module!r}")


def resolve_servers(value: str, env: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The modules to mount, in canonical order, and why each was chosen.

    `auto` (the default) mounts the modules whose backend is configured, or all of them when none is
    (so a bare client still sees what exists and each tool's error names the variable to set).
    """
    if value.strip().lower() not in ("", "auto"):
        chosen = normalize(value)
        return [m for m in MODULE_PACKAGES if m in chosen], dict.fromkeys(chosen, "--servers")
    reasons = {m: r for m in MODULE_PACKAGES if (r := configured_reason(m, env))}
    if not reasons:
        return list(MODULE_PACKAGES), dict.fromkeys(MODULE_PACKAGES, "no backend configured: mounting all")
    return list(reasons), reasons


# --- toolsets -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleTools:
    """A module's declared tools and toolsets (unprefixed names), read from its `tools.py`."""

    key: str
    prefix: str
    names: tuple[str, ...]
    toolsets: Mapping[str, tuple[str, ...]]
    default: tuple[str, ...]

    def toolset_of(self, name: str) -> str | None:
        return next((ts for ts, members in self.toolsets.items() if name in members), None)


def module_tools(name: str) -> ModuleTools:
    info = load(name)
    mod = importlib.import_module(f"{MODULE_PACKAGES[name]}.tools")
    specs = [*mod.TOOLS, *getattr(mod, "COMMAND_TOOLS", [])]
    names = tuple(dict.fromkeys(s.name for s in specs))
    return ModuleTools(name, info.prefix, names, dict(mod.TOOLSETS), tuple(mod.DEFAULT_TOOLSETS))


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
            if key not in MODULE_PACKAGES:
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
