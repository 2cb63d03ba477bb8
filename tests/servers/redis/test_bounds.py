"""Bounded diagnostics: XINFO groups/consumers paging and shortened entries, INFO paging under a byte cap,
the newest LATENCY HISTORY samples, and MEMORY STATS per-db entries under a byte cap."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest
import redis.asyncio as aioredis
from mcp import Client

from servers.redis import build_server
from tests.conftest import ok
from tests.servers.redis.conftest import with_db
from tests.servers.redis.test_diagnostics import SLOW_LUA

pytestmark = pytest.mark.anyio


@pytest.fixture
async def tight(test_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    """A read-only server whose results are capped at 1 KiB."""
    monkeypatch.setenv("BAM_REDIS_MAX_BYTES", "1024")
    async with Client(build_server()) as c:
        yield c


async def test_stream_info_pages_groups_and_consumers_and_shortens_entries(
    ro: Client, raw: aioredis.Redis, prefix: str
) -> None:
    key = prefix + "big"
    await raw.xadd(key, {"blob": "x" * 100_000, "small": "ok"}, id="1-0")
    await raw.xadd(key, {"n": "2"}, id="2-0")
    groups = [f"g{i:02d}" for i in range(30)]
    pipe = raw.pipeline(transaction=False)
    for g in groups:
        pipe.xgroup_create(key, g, id="0")
    for i in range(25):
        pipe.xgroup_createconsumer(key, "g00", f"c{i:02d}")
    await pipe.execute()

    first = ok(await ro.call_tool("redis_stream_info", {"key": key, "group": "g00", "limit": 10}))
    assert first["truncated"] is True and first["groups_total"] == 30 and first["consumers_total"] == 25
    assert [g["name"] for g in first["groups"]] == groups[:10] and first["next_groups_offset"] == 10
    assert len(first["consumers"]) == 10 and first["next_consumers_offset"] == 10
    entry = first["stream"]["first-entry"]
    assert entry["id"] == "1-0" and entry["fields"]["small"] == "ok" and entry["fields_total"] == 2
    assert 256 <= len(entry["fields"]["blob"]) < 10_000 and "redis_stream_range" in first["notes"][0]
    assert first["stream"]["last-entry"]["fields"] == {"n": "2"}

    seen_groups, seen_consumers = [], []
    off_g: int | None = 0
    off_c: int | None = 0
    while off_g is not None or off_c is not None:
        page = ok(
            await ro.call_tool(
                "redis_stream_info",
                {
                    "key": key,
                    "group": "g00",
                    "limit": 10,
                    "groups_offset": 30 if off_g is None else off_g,
                    "consumers_offset": 25 if off_c is None else off_c,
                },
            )
        )
        if off_g is not None:
            seen_groups += [g["name"] for g in page["groups"]]
        if off_c is not None:
            seen_consumers += [c["name"] for c in page["consumers"]]
        off_g, off_c = page["next_groups_offset"], page["next_consumers_offset"]
    assert seen_groups == groups and seen_consumers == [f"c{i:02d}" for i in range(25)]

    await raw.xtrim(key, maxlen=1)
    whole = ok(await ro.call_tool("redis_stream_info", {"key": key, "limit": 100}))
    assert whole["groups_total"] == 30 and len(whole["groups"]) == 30 and whole["truncated"] is False
    assert whole["next_groups_offset"] is None and whole["consumers"] is None and whole["notes"] == []


async def test_info_sections_page_under_the_byte_cap(tight: Client) -> None:
    full = ok(await tight.call_tool("redis_info", {"sections": ["everything"]}))
    assert full["truncated"] is True and full["next_offset"] == full["fields"] > 0
    assert full["fields_total"] > full["fields"] and len(str(full["sections"])) < 2_000
    assert full["summary"]["version"].startswith("7.")
    got = {(s, k) for s, body in full["sections"].items() for k in body}
    offset = full["next_offset"]
    pages = 1
    while offset is not None:
        page = ok(await tight.call_tool("redis_info", {"sections": ["everything"], "offset": offset}))
        got |= {(s, k) for s, body in page["sections"].items() for k in body}
        offset = page["next_offset"]
        pages += 1
        assert pages < 500
    assert pages > 3 and ("server", "redis_version") in got and ("memory", "used_memory") in got
    assert any(s == "commandstats" and k == "cmdstat_info" for s, k in got)
    assert len(got) >= full["fields_total"] - 5  # INFO itself adds a few counters between calls


async def test_latency_history_keeps_the_newest_samples(ro: Client, raw: aioredis.Redis) -> None:
    old = await raw.config_get("latency-monitor-threshold")
    await raw.config_set("latency-monitor-threshold", 50)
    try:
        await raw.eval(SLOW_LUA, 0)
        await anyio.sleep(1.1)  # one sample per event per second
        await raw.eval(SLOW_LUA, 0)
        newest = time.time()
    finally:
        await raw.config_set("latency-monitor-threshold", old["latency-monitor-threshold"] or 0)
    one = ok(await ro.call_tool("redis_latency", {"event": "command", "limit": 1}))
    assert one["history_total"] >= 2 and len(one["history"]) == 1 and one["truncated"] is True
    assert abs(one["history"][0]["time"] - newest) < 5
    every = ok(await ro.call_tool("redis_latency", {"event": "command", "limit": 500}))
    assert len(every["history"]) == every["history_total"] >= 2 and every["truncated"] is False
    assert every["history"][-1] == one["history"][0]


async def test_memory_stats_per_db_entries_are_capped(tight: Client, test_url: str, prefix: str) -> None:
    dbs = range(1, 11)
    clients = [aioredis.Redis.from_url(with_db(test_url, db)) for db in dbs]
    try:
        for c in clients:
            await c.set(prefix + "mem", "1", ex=120)
        r = ok(await tight.call_tool("redis_memory_doctor", {}))
        per_db = [k for k in r["stats"] if k.startswith("db.")]
        assert r["truncated"] is True and 1 <= len(per_db) < 10
        assert r["doctor"] and r["stats"]["peak.allocated"] > 0 and "dataset.bytes" in r["stats"]
    finally:
        for c in clients:
            await c.delete(prefix + "mem")
            await c.aclose()
