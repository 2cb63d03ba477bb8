"""A missing or down Redis never stops the server; tools say what to fix and recover by themselves."""

from __future__ import annotations

import subprocess
import time

import anyio
import pytest
import redis.asyncio as aioredis
from mcp import Client

from servers.redis import build_server
from servers.redis.client import resources
from servers.redis.settings import RedisSettings
from tests.conftest import error_text, free_port, ok
from tests.servers.redis.conftest import require_binary

pytestmark = pytest.mark.anyio


async def test_unconfigured_server_starts_and_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("REDIS_URL", "BAM_REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS"):
        monkeypatch.delenv(var, raising=False)
    async with Client(build_server()) as c:
        msg = error_text(await c.call_tool("redis_info", {}))
    assert "not configured" in msg and "REDIS_URL" in msg
    async with resources(RedisSettings()) as r:
        h = await r.check()
    assert h.status == "unconfigured" and not h.ok


async def test_down_then_up_recovers_without_restart(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    server_bin = require_binary("redis-server", "redis-server")
    port = free_port()
    monkeypatch.setenv("REDIS_URL", f"redis://:s3cret@127.0.0.1:{port}/0")
    monkeypatch.setenv("BAM_REDIS_CONNECT_TIMEOUT_S", "1")
    for var in ("REDIS_CLUSTER_NODES", "REDIS_SENTINELS"):
        monkeypatch.delenv(var, raising=False)
    async with Client(build_server()) as c:
        t0 = time.monotonic()
        msg = error_text(await c.call_tool("redis_key_info", {"key": "k"}))
        assert time.monotonic() - t0 < 5
        assert f"127.0.0.1:{port}" in msg and "REDIS_URL" in msg and "unreachable" in msg
        assert "s3cret" not in msg
        proc = subprocess.Popen(
            [
                server_bin,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                "s3cret",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            probe = aioredis.Redis(host="127.0.0.1", port=port, password="s3cret")
            for _ in range(100):
                try:
                    await probe.ping()
                    break
                except Exception:
                    await anyio.sleep(0.05)
            await probe.set("k", "v")
            await probe.aclose()
            info = ok(await c.call_tool("redis_key_info", {"key": "k"}))
            assert info["exists"] and info["type"] == "string"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        # down again: an actionable error, not a crash
        msg = error_text(await c.call_tool("redis_key_info", {"key": "k"}))
        assert "REDIS_URL" in msg or "connection" in msg.lower()
        assert "s3cret" not in msg


async def test_wrong_password_is_reported_without_the_password(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url.replace("redis://", "redis://nobody:hunter2@", 1))
    for var in ("REDIS_CLUSTER_NODES", "REDIS_SENTINELS"):
        monkeypatch.delenv(var, raising=False)
    async with Client(build_server()) as c:
        msg = error_text(await c.call_tool("redis_info", {}))
    assert "hunter2" not in msg and "[AUTH]" in msg and "REDIS_URL" in msg and "password" in msg


async def test_bursts_wait_for_a_pooled_connection_instead_of_failing(
    test_url: str, raw: aioredis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_REDIS_MAX_CONNECTIONS", "2")
    await raw.set(f"{prefix}k", b"v")
    async with Client(build_server()) as c:
        results: list[bool] = []

        async def one() -> None:
            r = await c.call_tool("redis_key_get", {"key": f"{prefix}k"})
            results.append(not r.is_error)

        async with anyio.create_task_group() as tg:
            for _ in range(40):
                tg.start_soon(one)
    assert results == [True] * 40


async def test_an_exhausted_pool_is_reported_as_such(
    test_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_REDIS_MAX_CONNECTIONS", "2")
    monkeypatch.setenv("BAM_REDIS_POOL_TIMEOUT_S", "0.2")
    async with Client(build_server()) as c:
        texts: list[str] = []

        async def slow() -> None:  # each holds a connection for a second
            texts.append(
                str((await c.call_tool("redis_subscribe", {"channels": [f"{prefix}c"], "timeout_s": 1})).content)
            )

        async def fast() -> None:
            await anyio.sleep(0.3)
            r = await c.call_tool("redis_key_info", {"key": f"{prefix}none"})
            texts.append(error_text(r) if r.is_error else "ok")

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(slow)
            tg.start_soon(fast)
    assert any("POOL_EXHAUSTED" in t and "BAM_REDIS_MAX_CONNECTIONS" in t for t in texts), texts
