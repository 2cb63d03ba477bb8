"""Sentinel mode: the master is found through a real redis-sentinel by its service name.

The test starts its own loopback master and sentinel (the Debian redis-server binary in --sentinel
mode) on free ports and stops them afterwards.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import redis.asyncio as aioredis
from mcp import Client

from servers.redis import build_server
from servers.redis.client import resources
from servers.redis.settings import RedisSettings
from tests.conftest import free_port, ok
from tests.servers.redis.conftest import WRITES, require_binary

pytestmark = pytest.mark.anyio


@pytest.fixture
def sentinel() -> Iterator[tuple[int, int]]:
    binary = require_binary("redis-server", "redis-server")
    master, sent = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bam-sentinel-") as d:
        conf = Path(d) / "sentinel.conf"
        conf.write_text(
            f"port {sent}\nbind 127.0.0.1\ndir {d}\n"
            f"sentinel monitor bam-master 127.0.0.1 {master} 1\n"
            "sentinel down-after-milliseconds bam-master 60000\n"
        )
        procs = [
            subprocess.Popen(
                [binary, "--port", str(master), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        try:
            yield master, sent
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=10)


async def wait_ping(port: int) -> None:
    c = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                await c.ping()
                return
            except Exception:
                await anyio.sleep(0.05)
        raise AssertionError(f"nothing answers on 127.0.0.1:{port}")
    finally:
        await c.aclose()


async def test_sentinel_mode_finds_the_master(sentinel: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    master, sent = sentinel
    await wait_ping(master)
    await wait_ping(sent)
    monkeypatch.delenv("REDIS_CLUSTER_NODES", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/3")  # only credentials/db are taken from it
    monkeypatch.setenv("REDIS_SENTINELS", f"127.0.0.1:1,127.0.0.1:{sent}")
    monkeypatch.setenv("REDIS_SENTINEL_SERVICE", "bam-master")
    async with Client(build_server(WRITES)) as c:
        ok(await c.call_tool("redis_key_set", {"key": "via-sentinel", "value": "yes"}))
        info = ok(await c.call_tool("redis_info", {}))
        assert info["summary"]["role"] == "master"
    direct = aioredis.Redis(host="127.0.0.1", port=master, db=3)
    try:
        assert await direct.get("via-sentinel") == b"yes"
    finally:
        await direct.aclose()
    async with resources(RedisSettings()) as r:
        h = await r.check()
        assert h.ok and "sentinel" in h.target and "bam-master" in h.target
    monkeypatch.setenv("REDIS_SENTINEL_SERVICE", "no-such-master")
    async with resources(RedisSettings()) as r:
        h = await r.check()
        assert h.status == "down" and "REDIS_SENTINELS" in h.detail
