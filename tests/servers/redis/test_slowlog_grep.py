"""redis_slowlog with `grep`: only entries whose (redacted) command matches."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.redis.test_diagnostics import SLOW_LUA

pytestmark = pytest.mark.anyio


async def test_slowlog_grep_keeps_matching_commands(ro: Client, raw: aioredis.Redis) -> None:
    old = await raw.config_get("slowlog-log-slower-than")
    await raw.config_set("slowlog-log-slower-than", 0)  # log everything for this test
    try:
        await raw.set("bamtest:slowgrep:k", "v")
        await raw.eval(SLOW_LUA, 0)
        r = ok(await ro.call_tool("redis_slowlog", {"limit": 5, "grep": "TIME|bamtest:slowgrep"}))
        assert r["entries"] and len(r["entries"]) <= 5
        assert all(
            "time" in " ".join(e["command"]).lower() or "bamtest:slowgrep" in " ".join(e["command"])
            for e in r["entries"]
        )
        none = ok(await ro.call_tool("redis_slowlog", {"grep": "no-such-command-xyz"}))
        assert none["entries"] == [] and none["count"] == 0
        assert "invalid_pattern" in error_text(await ro.call_tool("redis_slowlog", {"grep": "|"}))
    finally:
        await raw.config_set("slowlog-log-slower-than", old["slowlog-log-slower-than"] or 10_000)
        await raw.unlink("bamtest:slowgrep:k")
