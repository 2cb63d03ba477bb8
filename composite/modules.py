"""The module registry: names, the packages that implement them, imported only when enabled."""

from __future__ import annotations

import importlib

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
