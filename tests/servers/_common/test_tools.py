"""The one place that decides which tools are exposed."""

from __future__ import annotations

from servers._common.tools import ADMIN, DESTRUCTIVE, READ, WRITE, ToolSpec, make_policy


def fn() -> None:
    """A tool."""


READ_T = ToolSpec(fn, "get", "Get", READ)
WRITE_T = ToolSpec(fn, "set", "Set", WRITE)
DEL_T = ToolSpec(fn, "delete", "Delete", DESTRUCTIVE)
ADMIN_T = ToolSpec(fn, "exec", "Exec", WRITE, level=ADMIN)


def allowed(policy_kwargs: dict[str, object], spec: ToolSpec, module: str = "redis") -> bool:
    policy = make_policy(**policy_kwargs)  # type: ignore[arg-type]
    return policy.permits(module, f"{module}_{spec.name}", spec)


def test_read_only_by_default() -> None:
    assert allowed({}, READ_T)
    assert not allowed({}, WRITE_T) and not allowed({}, DEL_T) and not allowed({}, ADMIN_T)


def test_writes_per_module_and_for_all() -> None:
    assert allowed({"allow_writes": "redis"}, WRITE_T) and allowed({"allow_writes": "redis"}, DEL_T)
    assert not allowed({"allow_writes": "postgres"}, WRITE_T)
    assert allowed({"allow_writes": "all"}, WRITE_T) and allowed({"allow_writes": "true"}, WRITE_T)
    assert not allowed({"allow_writes": "none"}, WRITE_T)


def test_destructive_can_be_hidden_even_with_writes() -> None:
    kw = {"allow_writes": "all", "allow_destructive": False}
    assert allowed(kw, WRITE_T) and not allowed(kw, DEL_T)


def test_admin_needs_its_own_setting_and_writes() -> None:
    assert not allowed({"allow_writes": "all"}, ADMIN_T)
    assert not allowed({"allow_admin": "all"}, ADMIN_T)
    assert allowed({"allow_writes": "all", "allow_admin": "redis"}, ADMIN_T)


def test_globs() -> None:
    assert allowed({"tools": "redis_g*"}, READ_T) and not allowed({"tools": "pg_*"}, READ_T)
    assert not allowed({"exclude_tools": "*_get"}, READ_T)
