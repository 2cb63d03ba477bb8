"""The cached tool listing: identical to a full registration, keyed by policy, built for real on first call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from mcp import Client

from composite.app import build
from composite.settings import AppSettings
from composite.toolcache import LazyTool
from tests.conftest import ok

pytestmark = pytest.mark.anyio


async def _listing(settings: AppSettings) -> tuple[list[dict[str, Any]], Any]:
    app = build(settings)
    tools = await app.server.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools], app


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BAM_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("BAM_TOOL_CACHE", raising=False)
    return tmp_path


async def test_cached_listing_equals_a_full_registration(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, app = await _listing(AppSettings())  # miss: registers for real and writes the cache
    assert not any(isinstance(t, LazyTool) for t in app.server._tool_manager.list_tools())
    assert len(list(cache.glob("*.json"))) == 5
    second, app = await _listing(AppSettings())  # hit: listed from the cache
    assert all(isinstance(t, LazyTool) for t in app.server._tool_manager.list_tools())
    monkeypatch.setenv("BAM_TOOL_CACHE", "off")
    uncached, _ = await _listing(AppSettings())
    assert first == second == uncached


async def test_the_policy_is_part_of_the_key(cache: Path) -> None:
    read_only, _ = await _listing(AppSettings(servers="postgres"))
    writes, _ = await _listing(AppSettings(servers="postgres", allow_writes="postgres"))
    again, _ = await _listing(AppSettings(servers="postgres", allow_writes="postgres"))
    names = {t["name"] for t in writes}
    assert "pg_execute" in names and "pg_execute" not in {t["name"] for t in read_only}
    assert writes == again and len(list(cache.glob("postgres-*.json"))) == 2


async def test_a_listed_tool_runs_as_registered(cache: Path, database_url: str) -> None:
    await _listing(AppSettings(servers="postgres"))
    _, app = await _listing(AppSettings(servers="postgres"))
    async with Client(app.server) as c:
        data = ok(await c.call_tool("pg_query", {"sql": "SELECT 41 + 1 AS n"}))
        assert data["rows"] == [{"n": 42}]
        bad = await c.call_tool("pg_query", {"sql": "SELECT 1", "limit": 0})  # validated like the real tool
        assert bad.is_error
    tool = app.server._tool_manager.get_tool("pg_query")
    assert isinstance(tool, LazyTool) and tool._real is not None


async def test_a_stale_cache_entry_is_dropped_on_first_call(cache: Path, database_url: str) -> None:
    await _listing(AppSettings(servers="postgres"))
    [path] = cache.glob("postgres-*.json")
    entries = orjson.loads(path.read_bytes())
    for e in entries:
        if e["name"] == "pg_query":
            e["description"] = "tampered"
    path.write_bytes(orjson.dumps(entries))
    _, app = await _listing(AppSettings(servers="postgres"))
    async with Client(app.server) as c:
        ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
    assert not path.exists()
    fresh, _ = await _listing(AppSettings(servers="postgres"))
    assert next(t for t in fresh if t["name"] == "pg_query")["description"] != "tampered"
