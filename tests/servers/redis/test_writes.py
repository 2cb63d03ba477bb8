"""Write tools (exposed only with writes allowed) and the tool surface per policy."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from servers._common import ToolPolicy
from servers.redis import build_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

READ_TOOLS = {
    "redis_keys_scan",
    "redis_key_info",
    "redis_key_get",
    "redis_stream_range",
    "redis_stream_info",
    "redis_stream_pending",
    "redis_subscribe",
    "redis_info",
    "redis_slowlog",
    "redis_latency",
    "redis_clients_list",
    "redis_memory_doctor",
    "redis_keyspace_report",
    "redis_command",
}
WRITE_TOOLS = {
    "redis_key_set",
    "redis_keys_delete",
    "redis_key_expire",
    "redis_hash_set",
    "redis_hash_delete",
    "redis_list_push",
    "redis_list_pop",
    "redis_set_add",
    "redis_set_remove",
    "redis_zset_add",
    "redis_zset_remove",
    "redis_stream_add",
    "redis_stream_group_create",
    "redis_stream_ack",
    "redis_publish",
}


async def test_read_only_by_default(ro: Client) -> None:
    tools = {t.name: t for t in (await ro.list_tools()).tools}
    assert set(tools) == READ_TOOLS
    for t in tools.values():
        a = t.annotations
        assert a is not None and a.read_only_hint and not a.destructive_hint and a.open_world_hint is False, t.name
        assert t.output_schema and t.description and len(t.name) < 64


async def test_write_mode_annotations(rw: Client) -> None:
    tools = {t.name: t for t in (await rw.list_tools()).tools}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS
    destructive = {n for n, t in tools.items() if t.annotations and t.annotations.destructive_hint}
    assert destructive == {
        "redis_key_set",
        "redis_keys_delete",
        "redis_key_expire",
        "redis_hash_delete",
        "redis_list_pop",
        "redis_set_remove",
        "redis_zset_remove",
        "redis_command",
    }
    assert tools["redis_hash_set"].annotations.idempotent_hint  # type: ignore[union-attr]
    assert "read and write commands" in (tools["redis_command"].description or "")


async def test_no_destructive_hides_deleting_tools(test_url: str) -> None:
    pol = ToolPolicy(allow_writes=frozenset({"redis"}), allow_destructive=False)
    async with Client(build_server(pol)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert "redis_keys_delete" not in names and "redis_set_add" in names
    assert "redis_command" in names  # falls back to the read-only variant


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
