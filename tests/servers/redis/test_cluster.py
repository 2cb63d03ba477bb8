"""Cluster mode against the 3-node loopback cluster (scripts/backends/redis-cluster.sh)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from mcp import Client
from redis.asyncio.cluster import RedisCluster

from servers.redis import build_server
from tests.conftest import error_text, ok
from tests.servers.redis.conftest import ADMIN, WRITES

pytestmark = pytest.mark.anyio


@pytest.fixture
async def craw(cluster_url: str) -> AsyncIterator[RedisCluster]:
    rc = RedisCluster.from_url(cluster_url)
    await rc.initialize()
    yield rc
    await rc.aclose()


@pytest.fixture
async def cprefix(craw: RedisCluster) -> AsyncIterator[str]:
    p = f"bamtest:{uuid.uuid4().hex[:10]}:"
    yield p
    for node in craw.get_primaries():
        keys = [k async for k in craw.scan_iter(match=p + "*", count=1000, target_nodes=node)]
        for k in keys:
            await craw.unlink(k)


@pytest.fixture
def cluster_env(cluster_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # several seed nodes (one of them dead) and mode=cluster: the client discovers the rest
    host_port = cluster_url.split("://", 1)[1].split("/", 1)[0]
    monkeypatch.setenv("REDIS_CLUSTER_NODES", f"127.0.0.1:1,{host_port}")
    monkeypatch.setenv("REDIS_URL", cluster_url)


async def test_cluster_mode_end_to_end(cluster_env: None, craw: RedisCluster, cprefix: str) -> None:
    keys = [f"{cprefix}k{i}" for i in range(60)]
    for k in keys:
        await craw.set(k, k)
    slots_nodes = {getattr(craw.get_node_from_key(k), "name", None) for k in keys}
    assert len(slots_nodes) == 3  # the keys really spread over all primaries

    async with Client(build_server(WRITES)) as c:
        seen: list[str] = []
        cursor = None
        nodes_scanned = 0
        while True:
            args: dict[str, object] = {"pattern": cprefix + "*", "limit": 25}
            if cursor:
                args["cursor"] = cursor
            page = ok(await c.call_tool("redis_keys_scan", args))
            seen += [x["key"] for x in page["keys"]]
            nodes_scanned += page["scanned_nodes"]
            if not page["next_cursor"]:
                break
            cursor = page["next_cursor"]
        assert sorted(seen) == sorted(keys) and nodes_scanned >= 3

        got = ok(await c.call_tool("redis_key_get", {"key": keys[7]}))
        assert got["value"] == keys[7]
        ok(await c.call_tool("redis_key_set", {"key": cprefix + "{user}:a", "value": "1", "ttl_ms": 60_000}))
        ok(await c.call_tool("redis_hash_set", {"key": cprefix + "h", "fields": {"f": "v"}}))
        assert await craw.get(cprefix + "{user}:a") == b"1"

        info = ok(await c.call_tool("redis_info", {"sections": ["cluster"]}))
        assert info["summary"]["mode"] == "cluster" and info["sections"]["cluster"]["cluster_enabled"] == 1
        node_names = sorted(n.name for n in craw.get_primaries())
        other = ok(await c.call_tool("redis_info", {"node": node_names[2]}))
        assert other["node"] == node_names[2]
        assert "known nodes" in error_text(await c.call_tool("redis_info", {"node": "127.9.9.9:1"}))
        ok(await c.call_tool("redis_slowlog", {"node": node_names[1]}))
        ok(await c.call_tool("redis_clients_list", {"node": node_names[1], "limit": 5}))
        ok(await c.call_tool("redis_memory_doctor", {"node": node_names[0]}))
        ok(await c.call_tool("redis_latency", {}))

        rep = ok(await c.call_tool("redis_keyspace_report", {"pattern": cprefix + "*"}))
        assert rep["scan_complete"] and rep["sampled_keys"] == 62 and rep["total_keys"] >= 62

        r = ok(await c.call_tool("redis_command", {"args": ["GET", keys[11]]}))
        assert r["result"] == keys[11]
        r = ok(await c.call_tool("redis_command", {"args": ["INCR", cprefix + "counter"]}))
        assert r["result"] == 1
        assert "refused" in error_text(await c.call_tool("redis_command", {"args": ["FLUSHALL"]}))
        assert "refused" in error_text(await c.call_tool("redis_command", {"args": ["CLUSTER", "RESET"]}))

        deleted = ok(await c.call_tool("redis_keys_delete", {"keys": keys[:30]}))
        assert deleted["changed"] == 30
    assert sum([await craw.exists(k) for k in keys]) == 30


async def test_cluster_admin_reads_cluster_metadata(cluster_env: None, craw: RedisCluster) -> None:
    async with Client(build_server(ADMIN)) as c:
        r = ok(await c.call_tool("redis_command", {"args": ["CLUSTER", "INFO"]}))
    assert r["classification"] == "read" and r["command"] == "cluster|info"  # no write flags
    assert "cluster_state:ok" in str(r["result"]) and r["notes"]
    async with Client(build_server(ADMIN)) as c:
        docs = ok(await c.call_tool("redis_command", {"args": ["COMMAND", "DOCS", "xread"]}))
        assert "BLOCK" in str(docs["result"]) and docs["classification"] == "read"
        for args in (["MONITOR"], ["XREAD", "BLOCK", "1", "STREAMS", "s", "$"], ["READONLY"], ["SUBSCRIBE", "c"]):
            assert "REFUSED" in error_text(await c.call_tool("redis_command", {"args": args})), args
    primaries = sorted(n.name for n in craw.get_primaries())
    async with Client(build_server(ADMIN)) as c:
        r = ok(await c.call_tool("redis_command", {"args": ["DBSIZE"], "node": primaries[1]}))
    assert r["result"] == await craw.execute_command("DBSIZE", target_nodes=craw.get_node(node_name=primaries[1]))


async def test_cluster_typed_reads_streams_and_pubsub(cluster_env: None, craw: RedisCluster, cprefix: str) -> None:
    h, s, x = cprefix + "hash", cprefix + "set", cprefix + "stream"
    await craw.hset(h, mapping={f"f{i}": str(i) for i in range(300)})
    await craw.sadd(s, *[f"m{i}" for i in range(300)])
    async with Client(build_server(WRITES)) as c:
        info = ok(await c.call_tool("redis_key_info", {"key": h}))
        assert info["type"] == "hash" and info["length"] == 300 and info["memory_bytes"] > 0
        fields: list[str] = []
        cursor = None
        while True:
            args: dict[str, object] = {"key": h, "limit": 70}
            if cursor:
                args["cursor"] = cursor
            page = ok(await c.call_tool("redis_key_get", args))
            fields += [i["field"] for i in page["items"]]
            if not page["truncated"]:
                break
            cursor = page["next_cursor"]
        assert len(fields) == len(set(fields)) == 300
        members = ok(await c.call_tool("redis_key_get", {"key": s, "limit": 1000}))
        assert members["count"] == 300
        ok(await c.call_tool("redis_stream_group_create", {"key": x, "group": "g", "start_id": "0"}))
        for i in range(5):
            ok(await c.call_tool("redis_stream_add", {"key": x, "fields": {"i": str(i)}}))
        await craw.xreadgroup("g", "worker", {x: ">"}, count=5)
        sinfo = ok(await c.call_tool("redis_stream_info", {"key": x, "group": "g"}))
        assert sinfo["stream"]["length"] == 5 and sinfo["consumers"][0]["name"] == "worker"
        pend = ok(await c.call_tool("redis_stream_pending", {"key": x, "group": "g"}))
        assert pend["total_pending"] == 5
        rng = ok(await c.call_tool("redis_stream_range", {"key": x, "limit": 2}))
        assert rng["count"] == 2 and rng["truncated"]

        result: dict[str, object] = {}

        async def listen() -> None:
            result.update(
                ok(
                    await c.call_tool(
                        "redis_subscribe", {"channels": [cprefix + "ch"], "max_messages": 1, "timeout_s": 10}
                    )
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            for _ in range(200):
                if result:
                    break
                ok(await c.call_tool("redis_publish", {"channel": cprefix + "ch", "message": "hi"}))
                await anyio.sleep(0.05)
        assert result["count"] == 1 and result["stopped_by"] == "max_messages"


async def test_cluster_bursts_wait_for_node_connections_instead_of_failing(
    cluster_env: None, craw: RedisCluster, cprefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_REDIS_MAX_CONNECTIONS", "2")
    keys = [f"{cprefix}{i}" for i in range(6)]  # spread over the three primaries
    for k in keys:
        await craw.set(k, b"v")
    async with Client(build_server()) as c:
        failures: list[str] = []

        async def one(key: str) -> None:
            for tool in ("redis_key_get", "redis_key_info"):  # a pipeline and plain commands
                r = await c.call_tool(tool, {"key": key})
                if r.is_error:
                    failures.append(error_text(r))

        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(one, keys[i % len(keys)])
    assert failures == []
