"""The tool manifest: fresh, equal to what building the tools gives, and listed and run through the SDK's public
`Tool` surface; a stale one is not used."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from mcp import Client
from mcp.server.mcpserver.tools import Tool

from servers._common import ToolPolicy, manifest
from servers._common.manifest import DeferredTool
from servers.registry import MODULES, load

pytestmark = pytest.mark.anyio

POLICIES = {
    "read-only": ToolPolicy(),
    "everything": ToolPolicy(allow_writes=frozenset({"*"}), allow_admin=frozenset({"*"})),
    "writes, no destructive": ToolPolicy(allow_writes=frozenset({"*"}), allow_destructive=False),
}


def definitions(tools: list[Tool]) -> bytes:
    """What `tools/list` sends of each tool, order-sensitive (key order included)."""
    return orjson.dumps(
        [
            (t.name, t.title, t.description, t.parameters, t.output_schema, t.meta, t.icons, annotations_of(t))
            for t in tools
        ]
    )


def annotations_of(t: Tool) -> dict[str, Any] | None:
    return t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None


def test_the_packaged_manifest_is_fresh() -> None:
    assert manifest.MANIFEST.read_bytes() == manifest.render(manifest.generate()), (
        "servers/_common/tool_manifest.json is stale: run `make manifest` and commit it"
    )


@pytest.mark.parametrize("key", MODULES)
@pytest.mark.parametrize("policy", list(POLICIES))
def test_deferred_tools_define_exactly_what_built_tools_do(key: str, policy: str) -> None:
    info = load(key)
    deferred = info.tools(POLICIES[policy])
    assert deferred and all(isinstance(t, DeferredTool) for t in deferred)
    assert definitions(deferred) == definitions(info.built_tools(POLICIES[policy]))


@pytest.mark.parametrize("key", MODULES)
def test_the_declared_catalog_is_the_imported_one(key: str) -> None:
    info = load(key)
    declared, imported = info.declared_catalog(), info.catalog()
    assert isinstance(declared.tools[0].fn, manifest.Declared)
    assert declared.toolsets == imported.toolsets and declared.default_toolsets == imported.default_toolsets
    for mine, theirs in ((declared.tools, imported.tools), (declared.variants, imported.variants)):
        assert [(s.name, s.title, s.annotations, s.level) for s in mine] == [
            (s.name, s.title, s.annotations, s.level) for s in theirs
        ]


async def test_a_deferred_tool_is_listed_by_the_sdk_and_built_on_its_first_run() -> None:
    info = load("redis")
    tools = info.tools(POLICIES["everything"])
    command = next(t for t in tools if t.name == "redis_command")
    assert isinstance(command, DeferredTool)
    async with Client(info.build_server(POLICIES["everything"])) as c:
        listed = (await c.list_tools()).tools
        assert [t.name for t in listed] == [t.name for t in tools]
        result = await c.call_tool("redis_command", {"args": ["PING"]})
        assert not result.is_error, result.content
        assert result.structured_content is not None and result.structured_content["result"] == "PONG"
        bad = await c.call_tool("redis_command", {"args": "PING"})
        assert bad.is_error  # the built tool's own argument validation
    built = command.loaded()
    assert (
        type(built) is Tool and built.parameters == command.parameters and built.output_schema == command.output_schema
    )


@pytest.fixture
def manifest_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(path: Path) -> None:
        monkeypatch.setattr(manifest, "MANIFEST", path)
        manifest._manifest.cache_clear()
        manifest.declared_module.cache_clear()

    yield use
    monkeypatch.undo()
    manifest._manifest.cache_clear()
    manifest.declared_module.cache_clear()


@pytest.mark.parametrize("content", [b"", b"{}", b'{"fingerprint": "0", "modules": {}}'])
def test_a_stale_or_missing_manifest_is_not_used(manifest_at: Any, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "tool_manifest.json"
    if content:
        path.write_bytes(content)
    manifest_at(path)
    info = load("postgres")
    assert manifest.declared_module(info.catalog_module) is None
    assert info.declared_catalog() is info.catalog()
    tools = info.tools(POLICIES["everything"])
    assert tools and not any(isinstance(t, DeferredTool) for t in tools)


def test_the_fingerprint_changes_with_any_module_source(tmp_path: Path) -> None:
    root = tmp_path / "servers"
    shutil.copytree(manifest.SOURCES, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = manifest.fingerprint(root)
    assert manifest.fingerprint(root) == before
    source = root / "postgres" / "catalog.py"
    source.write_text(source.read_text() + "\n# a comment\n")
    after = manifest.fingerprint(root)
    assert after != before
    source.write_bytes(source.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout of the same text
    assert manifest.fingerprint(root) == after
