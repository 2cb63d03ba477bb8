"""Streams: ranges, XINFO, pending entries, consumer groups, XADD and XACK."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_stream_range_pages_forward_and_backward(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    key = prefix + "events"
    for i in range(25):
        await raw.xadd(key, {"seq": str(i), "kind": "click" if i % 2 else "view"}, id=f"{1000 + i}-0")
    ids: list[str] = []
    start = "-"
    while True:
        page = ok(await ro.call_tool("redis_stream_range", {"key": key, "start": start, "limit": 10}))
        ids += [e["id"] for e in page["entries"]]
        if not page["truncated"]:
            assert page["next_cursor"] is None
            break
        start = page["next_cursor"]
        assert start.startswith("(")
    assert ids == [f"{1000 + i}-0" for i in range(25)]
    rev = ok(await ro.call_tool("redis_stream_range", {"key": key, "reverse": True, "limit": 3}))
    assert [e["id"] for e in rev["entries"]] == ["1024-0", "1023-0", "1022-0"]
    rev2 = ok(
        await ro.call_tool("redis_stream_range", {"key": key, "reverse": True, "limit": 3, "end": rev["next_cursor"]})
    )
    assert [e["id"] for e in rev2["entries"]] == ["1021-0", "1020-0", "1019-0"]
    assert rev["entries"][0]["fields"] == {"seq": "24", "kind": "view"}


async def test_groups_pending_and_ack(rw: Client, raw: aioredis.Redis, prefix: str) -> None:
    key = prefix + "jobs"
    created = ok(await rw.call_tool("redis_stream_group_create", {"key": key, "group": "workers", "start_id": "0"}))
    assert created["applied"] is True
    dup = error_text(await rw.call_tool("redis_stream_group_create", {"key": key, "group": "workers"}))
    assert "BUSYGROUP" in dup and "already exists" in dup
    for i in range(12):
        added = ok(await rw.call_tool("redis_stream_add", {"key": key, "fields": {"job": str(i)}}))
        assert added["id"] and added["length"] == i + 1
    await raw.xreadgroup("workers", "alice", {key: ">"}, count=8)
    await raw.xreadgroup("workers", "bob", {key: ">"}, count=4)

    info = ok(await rw.call_tool("redis_stream_info", {"key": key, "group": "workers"}))
    assert info["stream"]["length"] == 12 and info["stream"]["groups"] == 1
    assert info["stream"]["first-entry"]["fields"] == {"job": "0"}
    assert info["groups"][0]["name"] == "workers" and info["groups"][0]["pending"] == 12
    assert {c["name"]: c["pending"] for c in info["consumers"]} == {"alice": 8, "bob": 4}

    pend = ok(await rw.call_tool("redis_stream_pending", {"key": key, "group": "workers", "limit": 5}))
    assert pend["total_pending"] == 12 and pend["per_consumer"] == {"alice": 8, "bob": 4}
    assert pend["count"] == 5 and pend["truncated"] and all(e["deliveries"] == 1 for e in pend["entries"])
    nxt = ok(
        await rw.call_tool(
            "redis_stream_pending", {"key": key, "group": "workers", "start": pend["next_cursor"], "limit": 50}
        )
    )
    assert nxt["count"] == 7 and not nxt["truncated"]
    bob = ok(await rw.call_tool("redis_stream_pending", {"key": key, "group": "workers", "consumer": "bob"}))
    assert bob["count"] == 4 and {e["consumer"] for e in bob["entries"]} == {"bob"}
    idle = ok(await rw.call_tool("redis_stream_pending", {"key": key, "group": "workers", "min_idle_ms": 3_600_000}))
    assert idle["count"] == 0

    acked = ok(
        await rw.call_tool(
            "redis_stream_ack", {"key": key, "group": "workers", "ids": [e["id"] for e in bob["entries"]]}
        )
    )
    assert acked["changed"] == 4
    after = ok(await rw.call_tool("redis_stream_pending", {"key": key, "group": "workers"}))
    assert after["total_pending"] == 8 and after["per_consumer"] == {"alice": 8}
    missing = error_text(await rw.call_tool("redis_stream_pending", {"key": key, "group": "nobody"}))
    assert "NOGROUP" in missing and "redis_stream_group_create" in missing
