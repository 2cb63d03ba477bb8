"""Configuration fails closed: what cannot be applied stops the server before it serves anything.

- an unknown `BAM_*` variable (a typo: `..._ALLOW_WRITE` for `..._ALLOW_WRITES`) is an error naming the
  closest known one, so a misspelt restriction is never silently ignored;
- every mounted module's settings are validated at start (a bad `BAM_PG_POOL_MAX_SIZE` stops the server
  instead of failing at the first call);
- an `--exclude-tools` glob that matches no tool of a mounted module's family is an error: a typo there
  would expose what the operator meant to hide;
- `--tls-cert`/`--tls-key` must load.

The known variables are every field of the settings classes (their `BAM_*` names and aliases) plus the
few read directly through `os.environ`, listed in `EXTRA_VARIABLES`.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from composite import modules as registry
from servers.registry import MODULES, load, package

PREFIX = "BAM_"
EXTRA_VARIABLES: dict[str, str] = {
    "BAM_DOCKER_SOCKETS": "composite/modules.py: docker sockets probed by `--servers auto`",
    "BAM_WORKER_SETTINGS": "composite/workers.py: settings handed from the supervisor to its workers",
    "BAM_UPDATE_SNAPSHOTS": "tests: rewrite tests/composite/snapshots",
    "BAM_TEST_PG_IMAGE": "tests: PostgreSQL image of the test containers",
    "BAM_TEST_REDIS_IMAGE": "tests: Redis image of the test containers",
    "BAM_TEST_REDIS_DB": "tests: Redis database of the redis tests",
    "BAM_TEST_REDIS_ESCAPES_DB": "tests: Redis database of the redis escape tests",
}
"""`BAM_*` variables read directly (not through a settings class), with where."""
CLIENT_VARIABLES: dict[str, str] = {
    "BAM_AUTH_TOKEN": "composite/clientconfig.py: the token a client sends; the server reads BAM_AUTH_TOKENS",
}
"""Names the project uses on the client side only: the server refuses them (a likely typo of its own)."""


def settings_classes() -> list[type[BaseSettings]]:
    """The composite's settings and every module's settings classes (imports only the settings modules)."""
    from composite.settings import AppSettings

    found: list[type[BaseSettings]] = [AppSettings]
    for key in MODULES:
        mod = importlib.import_module(f"{package(key)}.settings")
        found += [
            v
            for v in vars(mod).values()
            if isinstance(v, type) and issubclass(v, BaseSettings) and v.__module__ == mod.__name__
        ]
    return found


def variables_of(cls: type[BaseSettings]) -> set[str]:
    """The environment variable names a settings class reads (upper case)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, f in cls.model_fields.items():
        alias = f.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(c).upper() for c in alias.choices if isinstance(c, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{f.alias or name}".upper())
    return names


def known_variables() -> set[str]:
    names = set(EXTRA_VARIABLES)
    for cls in settings_classes():
        names |= {n for n in variables_of(cls) if n.startswith(PREFIX)}
    return names


def unknown_variables(environ: Mapping[str, str], known: Iterable[str] | None = None) -> list[str]:
    """One message per `BAM_*` variable no setting reads, naming the closest known one."""
    known = sorted(known if known is not None else known_variables())
    out: list[str] = []
    for name in sorted(environ):
        if not name.upper().startswith(PREFIX) or name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; see `backend-architect-mcp serve --help`"
        out.append(f"unknown variable {name[:80]}{hint}")
    return out


def module_setting_errors(modules: Iterable[str]) -> list[str]:
    """Validation errors of the mounted modules' settings, naming the variables."""
    from pydantic import ValidationError

    out: list[str] = []
    for key in modules:
        mod = importlib.import_module(f"{package(key)}.settings")
        for cls in [v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, BaseSettings)]:
            if cls.__module__ != mod.__name__:
                continue
            try:
                cls()
            except ValidationError as exc:
                prefix = str(cls.model_config.get("env_prefix", ""))
                for e in exc.errors():
                    field = str(e["loc"][0]) if e["loc"] else "?"
                    out.append(f"{key}: {prefix}{field.upper()}: {e['msg']}")
    return out


def exclude_typos(exclude_tools: str, mounted: list[str]) -> list[str]:
    """`--exclude-tools` globs that hide nothing in the families of the mounted modules."""
    families = {k: load(k).prefix for k in MODULES}
    names = [f"{families[k]}{n}" for k in mounted for n in registry.module_tools(k).names]
    out: list[str] = []
    for glob in [g.strip() for g in exclude_tools.split(",") if g.strip()]:
        if any(fnmatch.fnmatchcase(n, glob) for n in names):
            continue
        if any(glob.startswith(p) for k, p in families.items() if k not in mounted):
            continue  # aimed at a module that is not mounted here: nothing to hide
        out.append(f"--exclude-tools pattern {glob[:60]!r} matches no tool, so it would hide nothing")
    return out


def startup_errors(settings: Any, environ: Mapping[str, str]) -> list[str]:
    """Everything in `settings` and the environment that cannot be applied as written."""
    from composite.tls import tls_kwargs

    errors = unknown_variables(environ) + log_level_errors(settings.log_level)
    try:
        mounted, _ = registry.resolve_servers(settings.servers, environ)
    except ValueError as exc:
        return [*errors, str(exc)]
    errors += module_setting_errors(mounted)
    errors += exclude_typos(settings.exclude_tools, mounted)
    try:
        tls_kwargs(settings)
    except ValueError as exc:
        errors.append(str(exc))
    return errors


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level_errors(level: str) -> list[str]:
    if level.strip().upper() in LOG_LEVELS:
        return []
    return [f"BAM_LOG_LEVEL/--log-level {level[:40]!r} is not one of {', '.join(LOG_LEVELS)}"]


def describe_validation_error(exc: Exception, prefix: str = PREFIX) -> str:
    """A pydantic ValidationError of the settings as `BAM_<FIELD> (--flag-name): message` parts."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for e in exc.errors():
        field = str(e["loc"][0]) if e["loc"] else "?"
        parts.append(f"{prefix}{field.upper()} (--{field.replace('_', '-')}): {e['msg']}")
    return "; ".join(parts)
