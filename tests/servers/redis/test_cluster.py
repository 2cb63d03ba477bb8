"""Cluster mode against the 3-node loopback cluster (scripts/backends/redis-cluster.sh)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

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
        assert "known nodes" in error_text(await c.call_tool("redis_info", {"node": "10.9.9.9:1"}))
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
    assert r["classification"] == "write" and r["command"] == "cluster|info"  # not flagged readonly
    assert "cluster_state:ok" in str(r["result"]) and r["notes"]
    primaries = sorted(n.name for n in craw.get_primaries())
    async with Client(build_server(ADMIN)) as c:
        r = ok(await c.call_tool("redis_command", {"args": ["DBSIZE"], "node": primaries[1]}))
    assert r["result"] == await craw.execute_command("DBSIZE", target_nodes=craw.get_node(node_name=primaries[1]))
