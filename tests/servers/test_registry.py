"""The module list lives in one place (servers/registry.py), and every module keeps the contract."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.types import ToolAnnotations
from pydantic_settings import BaseSettings

from servers._common import READ, WRITE, ModuleState, ToolCatalog, ToolPolicy, spec_of, tool
from servers._common.tools import ADMIN, DESTRUCTIVE, make_policy
from servers.registry import ALIASES, MODULES, load
from servers.registry import package as package_of

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
TREES = ("servers", "composite", "tests", "bench")


def module_lists(path: Path) -> list[int]:
    """Lines of `path` holding a collection (or a comma-separated string) that names every module."""
    names = set(MODULES) | set(ALIASES)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            items = [ast.Constant(p.strip()) for p in node.value.split(",")]
        else:
            continue
        named = {i.value for i in items if isinstance(i, ast.Constant) and i.value in names}
        if len({ALIASES.get(n, n) for n in named}) == len(MODULES):
            found.append(node.lineno)
    return found


def test_the_module_list_appears_in_exactly_one_place() -> None:
    places = [
        f"{path.relative_to(ROOT)}:{line}"
        for tree in TREES
        for path in sorted((ROOT / tree).rglob("*.py"))
        for line in module_lists(path)
    ]
    assert len(places) == 1 and places[0].startswith("servers/registry.py:"), places


def test_the_scan_finds_the_shapes_a_list_takes(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'A = ("postgres", "redis", "kubernetes", "aws", "docker")\n'
        'B = {"pg": 1, "redis": 2, "aws": 3, "k8s": 4, "docker": 5}\n'
        'C = "postgres,redis,kubernetes,aws,docker"\n'
        'D = ["postgres", "redis", "aws"]  # a selection, not the list\n'
    )
    assert module_lists(sample) == [1, 2, 3]


def test_every_module_package_is_registered() -> None:
    packages = {p.parent.name for p in (ROOT / "servers").glob("*/__init__.py") if not p.parent.name.startswith("_")}
    assert packages == set(MODULES)


@pytest.mark.parametrize("name", MODULES)
async def test_every_module_keeps_the_contract(name: str) -> None:
    info = load(name)
    assert info.key == name and info.prefix.endswith("_") and info.title and info.summary
    assert issubclass(info.settings, BaseSettings) and info.env_prefix.startswith("BAM_")
    catalog = info.catalog()
    assert set(catalog.default_toolsets) <= set(catalog.toolsets)
    assert {n for members in catalog.toolsets.values() for n in members} == set(catalog.names)
    async with info.resources() as state:  # opening connects nothing: the backend is reached lazily
        assert isinstance(state, ModuleState)
    assert info.configured({}) is None or isinstance(info.configured({}), str)


@tool("Read", READ)
async def m_read() -> dict[str, str]:
    """Read."""
    return {}


@tool("Write", WRITE)
async def m_write() -> dict[str, str]:
    """Write."""
    return {}


def run_variant(title: str, annotations: ToolAnnotations, level: str = "normal") -> Callable[..., Any]:
    async def m_run() -> dict[str, str]:
        """Run."""
        return {}

    return tool(title, annotations, level=level)(m_run)


RUN_VARIANTS = (
    run_variant("Run (admin)", DESTRUCTIVE, ADMIN),
    run_variant("Run (writes)", DESTRUCTIVE),
    run_variant("Run (reads)", READ),
)


def test_one_variant_per_name_the_most_capable_the_policy_permits() -> None:
    catalog = ToolCatalog.of({"all": (m_read, m_write, *RUN_VARIANTS)}, default=("all",), variants=RUN_VARIANTS)

    def titles(policy: ToolPolicy) -> list[str]:
        return [s.title for s in catalog.permitted("m", "m_", policy)]

    assert titles(make_policy()) == ["Read", "Run (reads)"]
    assert titles(make_policy(allow_writes="m")) == ["Read", "Write", "Run (writes)"]
    assert titles(make_policy(allow_writes="all", allow_admin="m")) == ["Read", "Write", "Run (admin)"]
    assert titles(make_policy(exclude_tools="m_run")) == ["Read"]
    assert catalog.names == ("read", "write", "run")
    assert catalog.toolsets == {"all": ("read", "write", "run")}


def test_a_tool_declares_itself_and_its_name_drops_the_module_prefix() -> None:
    spec = spec_of(m_write)
    assert (spec.fn, spec.name, spec.title, spec.annotations, spec.level) == (
        m_write,
        "write",
        "Write",
        WRITE,
        "normal",
    )
    assert spec_of(RUN_VARIANTS[0]).level == ADMIN


def test_undeclared_or_rewrapped_functions_are_refused() -> None:
    async def m_plain() -> None:
        """Plain."""

    @functools.wraps(m_read)
    async def wrapper() -> dict[str, str]:
        return await m_read()

    for fn in (m_plain, wrapper):
        with pytest.raises(TypeError, match="not declared with @tool"):
            ToolCatalog.of({"all": (fn,)}, default=("all",))


@pytest.mark.parametrize(
    ("order", "default"),
    [((m_read,), ("all",)), ((m_read, m_write, m_read), ("all",)), ((m_write, m_read), ("nope",))],
)
def test_the_order_lists_each_member_once_and_defaults_are_toolsets(
    order: tuple[Callable[..., Any], ...], default: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        ToolCatalog.of({"all": (m_read, m_write)}, default=default, order=order)
    assert [s.name for s in ToolCatalog.of({"all": (m_read, m_write)}, ("all",), order=(m_write, m_read)).tools] == [
        "write",
        "read",
    ]


@pytest.mark.parametrize("key", MODULES)
def test_every_declared_tool_of_a_module_is_in_its_catalog(key: str) -> None:
    """A function declared with `@tool` but left out of `TOOLSETS` would silently never be exposed."""
    info = load(key)
    package = importlib.import_module(package_of(key))
    declared = set()
    for sub in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        if sub.name.endswith(".__main__"):
            continue
        mod = importlib.import_module(sub.name)
        declared |= {fn for _, fn in inspect.getmembers(mod, inspect.isfunction) if _declared(fn)}
    catalog = info.catalog()
    assert declared and declared <= {s.fn for s in [*catalog.tools, *catalog.variants]}


def _declared(fn: Callable[..., Any]) -> bool:
    try:
        return spec_of(fn) is not None
    except TypeError:
        return False
