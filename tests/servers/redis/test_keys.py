"""Key browsing and typed reads: SCAN paging, key info, every value type, caps and cursors."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def seed_types(raw: aioredis.Redis, p: str) -> None:
    await raw.set(p + "str", "héllo wörld", ex=300)
    await raw.set(p + "bin", b"\x00\xff\xfe binary")
    await raw.hset(p + "hash", mapping={f"f{i}": f"v{i}" for i in range(30)})
    await raw.rpush(p + "list", *[f"item{i}" for i in range(30)])
    await raw.sadd(p + "set", *[f"m{i}" for i in range(30)])
    await raw.zadd(p + "zset", {f"z{i}": i * 1.5 for i in range(30)})
    for i in range(30):
        await raw.xadd(p + "stream", {"n": str(i)}, id=f"{i + 1}-0")


async def test_keys_scan_pages_through_every_key_without_duplicates(
    ro: Client, raw: aioredis.Redis, prefix: str
) -> None:
    pipe = raw.pipeline(transaction=False)
    for i in range(250):
        pipe.set(f"{prefix}k:{i}", i)
    await pipe.execute()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        args = {"pattern": prefix + "k:*", "limit": 40, "with_types": False}
        if cursor:
            args["cursor"] = cursor
        page = ok(await ro.call_tool("redis_keys_scan", args))
        assert page["count"] <= 40 and page["count"] == len(page["keys"])
        seen += [k["key"] for k in page["keys"]]
        pages += 1
        if not page["next_cursor"]:
            assert page["truncated"] is False
            break
        assert page["truncated"] is True
        cursor = page["next_cursor"]
    assert pages >= 7
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == {f"{prefix}k:{i}" for i in range(250)}


async def test_keys_scan_filters_by_type_and_reports_type_and_ttl(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await seed_types(raw, prefix)
    page = ok(await ro.call_tool("redis_keys_scan", {"pattern": prefix + "*", "type": "hash", "limit": 100}))
    while page["next_cursor"] and not page["keys"]:
        page = ok(
            await ro.call_tool(
                "redis_keys_scan", {"pattern": prefix + "*", "type": "hash", "cursor": page["next_cursor"]}
            )
        )
    assert [k["key"] for k in page["keys"]] == [prefix + "hash"]
    everything = ok(await ro.call_tool("redis_keys_scan", {"pattern": prefix + "*", "limit": 100}))
    by_key = {k["key"]: k for k in everything["keys"]}
    assert by_key[prefix + "str"]["type"] == "string" and 0 < by_key[prefix + "str"]["ttl_ms"] <= 300_000
    assert by_key[prefix + "zset"]["type"] == "zset" and by_key[prefix + "zset"]["ttl_ms"] == -1
    assert len(by_key) == 7


async def test_bad_cursor_is_an_actionable_error(ro: Client) -> None:
    msg = error_text(await ro.call_tool("redis_keys_scan", {"cursor": "nope"}))
    assert "invalid cursor" in msg and "next_cursor" in msg


async def test_key_info_for_each_type(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await seed_types(raw, prefix)
    expect = {
        "str": ("string", 13),  # UTF-8 bytes
        "hash": ("hash", 30),
        "list": ("list", 30),
        "set": ("set", 30),
        "zset": ("zset", 30),
        "stream": ("stream", 30),
    }
    for name, (typ, length) in expect.items():
        info = ok(await ro.call_tool("redis_key_info", {"key": prefix + name}))
        assert info["exists"] and info["type"] == typ and info["length"] == length, (name, info)
        assert info["memory_bytes"] > 0 and info["encoding"]
    s = ok(await ro.call_tool("redis_key_info", {"key": prefix + "str"}))
    assert s["encoding"] == "embstr" and 0 < s["ttl_ms"] <= 300_000 and s["idle_seconds"] is not None
    missing = ok(await ro.call_tool("redis_key_info", {"key": prefix + "missing"}))
    assert missing == {**missing, "exists": False, "type": "none", "ttl_ms": None}


async def test_key_get_reads_every_type(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await seed_types(raw, prefix)
    s = ok(await ro.call_tool("redis_key_get", {"key": prefix + "str"}))
    assert s["value"] == "héllo wörld" and s["truncated"] is False and s["length"] == 13
    b = ok(await ro.call_tool("redis_key_get", {"key": prefix + "bin"}))
    assert b["value"] == {"base64": "AP/+IGJpbmFyeQ=="}
    h = ok(await ro.call_tool("redis_key_get", {"key": prefix + "hash", "limit": 1000}))
    assert {i["field"]: i["value"] for i in h["items"]} == {f"f{i}": f"v{i}" for i in range(30)}
    assert h["truncated"] is False and h["next_cursor"] is None
    lst = ok(await ro.call_tool("redis_key_get", {"key": prefix + "list", "limit": 10, "cursor": "5"}))
    assert [i["value"] for i in lst["items"]] == [f"item{i}" for i in range(5, 15)]
    assert lst["items"][0]["index"] == 5 and lst["next_cursor"] == "15" and lst["truncated"]
    st = ok(await ro.call_tool("redis_key_get", {"key": prefix + "set", "limit": 1000}))
    assert {i["member"] for i in st["items"]} == {f"m{i}" for i in range(30)}
    z = ok(await ro.call_tool("redis_key_get", {"key": prefix + "zset", "limit": 3}))
    assert z["items"] == [
        {"member": "z0", "score": 0.0},
        {"member": "z1", "score": 1.5},
        {"member": "z2", "score": 3.0},
    ]
    assert z["next_cursor"] == "3"
    x = ok(await ro.call_tool("redis_key_get", {"key": prefix + "stream", "limit": 2}))
    assert [e["id"] for e in x["items"]] == ["1-0", "2-0"] and x["items"][0]["fields"] == {"n": "0"}
    x2 = ok(await ro.call_tool("redis_key_get", {"key": prefix + "stream", "limit": 2, "cursor": x["next_cursor"]}))
    assert [e["id"] for e in x2["items"]] == ["3-0", "4-0"]
    none = ok(await ro.call_tool("redis_key_get", {"key": prefix + "missing"}))
    assert none["exists"] is False and none["type"] == "none"


async def test_key_get_pages_a_hash_by_cursor_and_byte_cap(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    # a hashtable-encoded hash (> 128 fields) so HSCAN really pages
    await raw.hset(prefix + "big", mapping={f"field{i:04d}": "x" * 50 for i in range(2000)})
    fields: list[str] = []
    cursor = None
    while True:
        args: dict[str, object] = {"key": prefix + "big", "limit": 300, "max_bytes": 8_000}
        if cursor:
            args["cursor"] = cursor
        page = ok(await ro.call_tool("redis_key_get", args))
        assert page["count"] <= 300
        assert sum(len(i["field"]) + len(i["value"]) for i in page["items"]) < 8_000
        fields += [i["field"] for i in page["items"]]
        if not page["truncated"]:
            break
        cursor = page["next_cursor"]
    assert len(fields) == len(set(fields)) == 2000


async def test_wrongtype_and_multibyte_boundaries(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await raw.set(prefix + "utf", "€" * 100)  # 3 bytes each
    page = ok(await ro.call_tool("redis_key_get", {"key": prefix + "utf", "max_bytes": 100}))
    assert page["value"] == "€" * 33 and page["next_cursor"] == "99" and page["truncated"]
    rest = ok(await ro.call_tool("redis_key_get", {"key": prefix + "utf", "cursor": "99"}))
    assert rest["value"] == "€" * 67 and rest["truncated"] is False
