"""Value writes (exposed only with writes allowed): strings and TTLs, deletion, hashes, lists, sets, zsets."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_string_writes_with_ttl_and_conditions(rw: Client, raw: aioredis.Redis, prefix: str) -> None:
    k = prefix + "cache:item"
    r = ok(await rw.call_tool("redis_key_set", {"key": k, "value": "v1", "ttl_ms": 60_000}))
    assert r["applied"] and 0 < r["ttl_ms"] <= 60_000 and await raw.get(k) == b"v1"
    assert not ok(await rw.call_tool("redis_key_set", {"key": k, "value": "v2", "nx": True}))["applied"]
    assert (
        ok(await rw.call_tool("redis_key_set", {"key": k, "value": "v3", "xx": True, "keep_ttl": True}))["ttl_ms"] > 0
    )
    assert await raw.get(k) == b"v3"
    assert not ok(await rw.call_tool("redis_key_set", {"key": prefix + "nope", "value": "x", "xx": True}))["applied"]
    assert "exclude" in error_text(
        await rw.call_tool("redis_key_set", {"key": k, "value": "x", "nx": True, "xx": True})
    )
    p = ok(await rw.call_tool("redis_key_expire", {"key": k, "persist": True}))
    assert p["applied"] and p["ttl_ms"] == -1
    e = ok(await rw.call_tool("redis_key_expire", {"key": k, "ttl_ms": 5_000}))
    assert e["applied"] and 0 < e["ttl_ms"] <= 5_000
    assert "exactly one" in error_text(await rw.call_tool("redis_key_expire", {"key": k}))
    d = ok(await rw.call_tool("redis_keys_delete", {"keys": [k, prefix + "missing"]}))
    assert d["changed"] == 1 and await raw.exists(k) == 0


async def test_collection_mutations(rw: Client, raw: aioredis.Redis, prefix: str) -> None:
    h, lst, st, z = prefix + "h", prefix + "l", prefix + "s", prefix + "z"
    assert ok(await rw.call_tool("redis_hash_set", {"key": h, "fields": {"a": "1", "b": "2"}}))["length"] == 2
    assert ok(await rw.call_tool("redis_hash_delete", {"key": h, "fields": ["a", "zz"]}))["changed"] == 1
    assert await raw.hgetall(h) == {b"b": b"2"}
    assert ok(await rw.call_tool("redis_list_push", {"key": lst, "values": ["a", "b", "c"]}))["length"] == 3
    assert ok(await rw.call_tool("redis_list_push", {"key": lst, "values": ["z"], "end": "left"}))["length"] == 4
    popped = ok(await rw.call_tool("redis_list_pop", {"key": lst, "end": "right", "count": 2}))
    assert popped["values"] == ["c", "b"] and popped["length"] == 2
    assert await raw.lrange(lst, 0, -1) == [b"z", b"a"]
    assert ok(await rw.call_tool("redis_set_add", {"key": st, "members": ["x", "y", "x"]}))["changed"] == 2
    assert ok(await rw.call_tool("redis_set_remove", {"key": st, "members": ["x"]}))["length"] == 1
    assert ok(await rw.call_tool("redis_zset_add", {"key": z, "members": {"p": 1, "q": 2}}))["changed"] == 2
    gt = ok(await rw.call_tool("redis_zset_add", {"key": z, "members": {"p": 0.5}, "condition": "gt"}))
    assert gt["changed"] == 0 and await raw.zscore(z, "p") == 1.0
    assert ok(await rw.call_tool("redis_zset_add", {"key": z, "members": {"p": 5}, "condition": "xx"}))["changed"] == 1
    assert ok(await rw.call_tool("redis_zset_remove", {"key": z, "members": ["q"]}))["length"] == 1
    wrong = error_text(await rw.call_tool("redis_list_push", {"key": h, "values": ["x"]}))
    assert "WRONGTYPE" in wrong and "redis_key_info" in wrong
