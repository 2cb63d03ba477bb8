"""The sampled big-key and key-prefix report: types, prefixes, TTL advice, budgets and resuming."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import ok

pytestmark = pytest.mark.anyio


async def test_keyspace_report_prefixes_types_and_ttl_advice(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    pipe = raw.pipeline(transaction=False)
    for i in range(60):
        pipe.set(f"{prefix}session:{i}", "x" * 100)
    for i in range(15):
        pipe.hset(f"{prefix}user:{i}", mapping={"name": "n", "email": "e"})
        pipe.expire(f"{prefix}user:{i}", 600)
    pipe.rpush(f"{prefix}queue:main", *range(500))
    await pipe.execute()
    rep = ok(
        await ro.call_tool(
            "redis_keyspace_report", {"pattern": prefix + "*", "prefix_depth": 3, "delimiter": ":", "top": 5}
        )
    )
    assert rep["scan_complete"] and rep["sampled_keys"] == 76 and rep["next_cursor"] is None
    assert rep["by_type"]["string"]["keys"] == 60 and rep["by_type"]["hash"]["keys"] == 15
    prefixes = {p["prefix"]: p for p in rep["prefixes"]}
    sess = prefixes[prefix + "session:*"]
    assert sess["keys"] == 60 and sess["with_ttl"] == 0 and sess["types"] == {"string": 60}
    assert prefixes[prefix + "user:*"]["with_ttl"] == 15
    assert rep["keys_without_ttl"] == 61
    assert rep["biggest_keys"][0]["key"] == prefix + "queue:main" and rep["biggest_keys"][0]["length"] == 500
    assert any("session:*" in a and "TTL" in a for a in rep["advice"])
    # a tiny budget stops early and hands back a cursor to continue
    part = ok(await ro.call_tool("redis_keyspace_report", {"pattern": prefix + "*", "max_keys": 1}))
    assert part["truncated"] and part["next_cursor"] and not part["scan_complete"]
    rest = ok(await ro.call_tool("redis_keyspace_report", {"pattern": prefix + "*", "cursor": part["next_cursor"]}))
    assert rest["scan_complete"] and part["sampled_keys"] + rest["sampled_keys"] >= 76
