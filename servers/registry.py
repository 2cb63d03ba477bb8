"""THE list of tool modules. Everything else (composite, CLI, client configs, tests, benchmarks) reads it here.

Adding a module: write its package (see servers/README.md) and add its name below. A module is imported
only when it is used (mounted, or probed by `--servers auto`).
"""

from __future__ import annotations

import importlib

from servers._common.module import ModuleInfo

MODULES: tuple[str, ...] = ("postgres", "redis", "kubernetes", "aws", "docker")
"""Module names in canonical order (the order of mounting, of the tool list and of reports)."""
ALIASES: dict[str, str] = {"pg": "postgres", "postgresql": "postgres", "k8s": "kubernetes", "kube": "kubernetes"}
"""Other names accepted on the command line."""


def package(name: str) -> str:
    """The package implementing module `name`."""
    return f"servers.{name}"


def load(name: str) -> ModuleInfo:
    """The module's `MODULE` declaration (imports its package, not its client library)."""
    if name not in MODULES:
        raise ValueError(f"unknown module {name!r}; choose from {', '.join(MODULES)}")
    info = importlib.import_module(package(name)).MODULE
    if not isinstance(info, ModuleInfo) or info.key != name:
        raise TypeError(f"{package(name)}.MODULE is not the ModuleInfo of {name!r}")
    return info
