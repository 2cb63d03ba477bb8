"""Diagnostics: INFO with hit ratio and evictions, SLOWLOG, LATENCY, clients and the memory doctor."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

SLOW_LUA = (
    "local t = redis.call('TIME'); local s = t[1]*1000000+t[2]; local n = s; "
    "while n - s < 120000 do local u = redis.call('TIME'); n = u[1]*1000000+u[2] end; return 1"
)


@pytest.fixture
async def slow_event(raw: aioredis.Redis) -> AsyncIterator[None]:
    """A 120 ms script with the latency monitor at 50 ms; settings restored afterwards."""
    old = await raw.config_get("latency-monitor-threshold")
    await raw.config_set("latency-monitor-threshold", 50)
    try:
        await raw.eval(SLOW_LUA, 0)
        yield
    finally:
        await raw.config_set("latency-monitor-threshold", old["latency-monitor-threshold"] or 0)


async def test_info_summary_has_cache_figures(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await raw.set(prefix + "hit", "1")
    await raw.get(prefix + "hit")
    await raw.get(prefix + "miss")
    r = ok(await ro.call_tool("redis_info", {}))
    s = r["summary"]
    assert s["version"].startswith("7.") and s["mode"] == "standalone" and s["role"] == "master"
    assert s["keyspace_hits"] >= 1 and s["keyspace_misses"] >= 1 and 0 < s["hit_ratio"] < 1
    assert s["evicted_keys"] >= 0 and s["expired_keys"] >= 0 and s["used_memory_bytes"] > 0
    assert s["maxmemory_policy"] and s["total_keys"] >= 1 and r["sections"] == {}
    full = ok(await ro.call_tool("redis_info", {"sections": ["memory", "keyspace", "commandstats"]}))
    assert set(full["sections"]) == {"memory", "keyspace", "commandstats"}
    assert full["sections"]["keyspace"]["db11"]["keys"] >= 1
    assert full["sections"]["commandstats"]["cmdstat_get"]["calls"] >= 1
    err = error_text(await ro.call_tool("redis_info", {"node": "127.0.0.1:1"}))
    assert "cluster mode" in err


async def test_slowlog_and_latency_show_a_slow_script(ro: Client, slow_event: None) -> None:
    slow = ok(await ro.call_tool("redis_slowlog", {"limit": 10}))
    assert slow["total_logged"] >= 1 and slow["count"] >= 1
    assert any(e["command"][0].lower() == "eval" and e["duration_us"] >= 100_000 for e in slow["entries"])
    lat = ok(await ro.call_tool("redis_latency", {"event": "command"}))
    assert any(e["event"] == "command" and e["max_ms"] >= 100 for e in lat["latest"])
    assert lat["history"] and lat["history"][-1]["latency_ms"] >= 100
    assert lat["doctor"]


async def test_clients_list_pages(ro: Client, test_url: str) -> None:
    extra = [aioredis.Redis.from_url(test_url, client_name=f"bamtest-{i}") for i in range(3)]
    try:
        for c in extra:
            await c.ping()
        first = ok(await ro.call_tool("redis_clients_list", {"limit": 2}))
        assert first["count"] == 2 and first["total"] >= 4 and first["truncated"] and first["next_offset"] == 2
        assert {"id", "addr", "age", "cmd"} <= set(first["clients"][0])
        everyone = ok(await ro.call_tool("redis_clients_list", {"limit": 1000, "type": "normal"}))
        names = {c.get("name") for c in everyone["clients"]}
        assert {"bamtest-0", "bamtest-1", "bamtest-2", "backend-architect-mcp"} <= names
    finally:
        for c in extra:
            await c.aclose()


async def test_memory_doctor(ro: Client) -> None:
    r = ok(await ro.call_tool("redis_memory_doctor", {}))
    assert r["doctor"] and r["stats"]["peak.allocated"] > 0 and "dataset.bytes" in r["stats"]
