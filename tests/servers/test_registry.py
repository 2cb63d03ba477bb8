"""The module list lives in one place (servers/registry.py), and every module keeps the contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from servers._common import READ, WRITE, ModuleState, ToolCatalog, ToolPolicy, ToolSpec
from servers._common.tools import ADMIN, DESTRUCTIVE, make_policy
from servers.registry import ALIASES, MODULES, load

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


async def sample() -> dict[str, str]:
    """Sample."""
    return {}


def test_one_variant_per_name_the_most_capable_the_policy_permits() -> None:
    catalog = ToolCatalog(
        tools=[ToolSpec(sample, "read", "Read", READ), ToolSpec(sample, "write", "Write", WRITE)],
        toolsets={"all": ("read", "write", "run")},
        default_toolsets=("all",),
        variants=[
            ToolSpec(sample, "run", "Run (admin)", DESTRUCTIVE, level=ADMIN),
            ToolSpec(sample, "run", "Run (writes)", DESTRUCTIVE),
            ToolSpec(sample, "run", "Run (reads)", READ),
        ],
    )

    def titles(policy: ToolPolicy) -> list[str]:
        return [s.title for s in catalog.permitted("m", "m_", policy)]

    assert titles(make_policy()) == ["Read", "Run (reads)"]
    assert titles(make_policy(allow_writes="m")) == ["Read", "Write", "Run (writes)"]
    assert titles(make_policy(allow_writes="all", allow_admin="m")) == ["Read", "Write", "Run (admin)"]
    assert titles(make_policy(exclude_tools="m_run")) == ["Read"]
    assert catalog.names == ("read", "write", "run")
