"""Caps and paging on large keys: a 1,000,000-member set and a 50 MB string."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import ok

pytestmark = pytest.mark.anyio

MEMBERS = 1_000_000
BATCH = 20_000


async def test_million_member_set_and_50mb_string(rw: Client, raw: aioredis.Redis, prefix: str) -> None:
    big_set, big_str = prefix + "bigset", prefix + "bigstr"
    t0 = time.monotonic()
    pipe = raw.pipeline(transaction=False)
    for start in range(0, MEMBERS, BATCH):
        pipe.sadd(big_set, *[f"member:{i}" for i in range(start, start + BATCH)])
    await pipe.execute()
    chunk = b"0123456789abcdef" * 65536  # 1 MiB
    await raw.set(big_str, b"")
    pipe = raw.pipeline(transaction=False)
    for _ in range(50):
        pipe.append(big_str, chunk)
    await pipe.execute()
    assert await raw.scard(big_set) == MEMBERS and await raw.strlen(big_str) == 50 * len(chunk)
    assert time.monotonic() - t0 < 60

    info = ok(await rw.call_tool("redis_key_info", {"key": big_set}))
    assert info["length"] == MEMBERS and info["encoding"] == "hashtable" and info["memory_bytes"] > 10_000_000

    # the set: one capped page at a time, no duplicates across pages
    seen: set[str] = set()
    cursor = None
    for _ in range(5):
        args: dict[str, object] = {"key": big_set, "limit": 500}
        if cursor:
            args["cursor"] = cursor
        t1 = time.monotonic()
        page = ok(await rw.call_tool("redis_key_get", args))
        assert time.monotonic() - t1 < 2
        assert page["length"] == MEMBERS and page["truncated"] is True and 0 < page["count"] <= 500
        members = {i["member"] for i in page["items"]}
        assert not members & seen
        seen |= members
        cursor = page["next_cursor"]
    assert len(seen) == 2500

    # the string: byte-capped chunks with an offset cursor
    s1 = ok(await rw.call_tool("redis_key_get", {"key": big_str}))
    assert s1["length"] == 50 * 1024 * 1024 and s1["truncated"] is True
    assert len(s1["value"]) == s1["count"] <= 256_000 and s1["value"].startswith("0123456789abcdef")
    s2 = ok(await rw.call_tool("redis_key_get", {"key": big_str, "cursor": s1["next_cursor"], "max_bytes": 1000}))
    assert s2["count"] == 1000 and s2["next_cursor"] == str(int(s1["next_cursor"]) + 1000)
    last = ok(await rw.call_tool("redis_key_get", {"key": big_str, "cursor": str(50 * 1024 * 1024 - 16)}))
    assert last["value"] == "0123456789abcdef" and last["truncated"] is False and last["next_cursor"] is None

    # the sampled report finds both as the biggest keys without blocking
    rep = ok(await rw.call_tool("redis_keyspace_report", {"pattern": prefix + "*", "top": 5}))
    assert rep["scan_complete"] and rep["sampled_keys"] == 2
    assert {b["key"] for b in rep["biggest_keys"]} == {big_set, big_str}
    assert any("big key" in a for a in rep["advice"])

    # a full read through redis_command is capped too
    members_reply = ok(await rw.call_tool("redis_command", {"args": ["SRANDMEMBER", big_set, "5000"]}))
    assert members_reply["classification"] == "read" and members_reply["truncated"] is True
    assert 0 < len(members_reply["result"]) <= 2000
    dump = ok(await rw.call_tool("redis_command", {"args": ["GET", big_str]}))
    assert dump["truncated"] is True and len(dump["result"]) <= 256_000

    deleted = ok(await rw.call_tool("redis_keys_delete", {"keys": [big_set, big_str]}))
    assert deleted["changed"] == 2
    assert await raw.exists(big_set, big_str) == 0
