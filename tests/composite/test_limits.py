"""Call limits: per-subject rate and concurrency, in memory and shared through Redis by two server
processes; over the limit HTTP 429 with Retry-After (a tool error over stdio) and nothing executed."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx2
import orjson
import pytest
import redis.asyncio as aioredis
from mcp import Client, StdioServerParameters

from composite.limits import MemoryCounters, RedisCounters
from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.conftest import error_text, free_port, ok

pytestmark = pytest.mark.anyio

HEADERS = {"accept": "application/json, text/event-stream"}


def tool_call(name: str, arguments: dict[str, Any], rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


async def post(sp: ServerProcess, name: str, arguments: dict[str, Any], rid: int = 1) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=sp.base, timeout=30) as h:
        return await h.post("/mcp", json=tool_call(name, arguments, rid), headers=HEADERS)


@pytest.fixture
async def table(database_url: str) -> AsyncIterator[str]:
    name = f"bam_limits_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"CREATE TABLE {name} (n int)")
    try:
        yield name
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {name}")
        await conn.close()


async def rows(database_url: str, table: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


WRITE_SERVER = ("--transport", "http", "--servers", "postgres", "--stateless", "--json-response",
                "--toolsets", "all", "--allow-writes", "postgres")  # fmt: skip


async def test_rate_limit_answers_429_with_retry_after_and_runs_nothing(
    database_url: str, table: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    sp = start_server(*WRITE_SERVER, "--rate-limit", "3", "--audit-log", str(audit))
    try:
        statuses = []
        for i in range(5):
            r = await post(sp, "pg_execute", {"sql": f"INSERT INTO {table} VALUES ({i})"}, rid=i)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert 1 <= int(r.headers["retry-after"]) <= 60
                body = r.json()
                assert body["id"] == i and "rate limit of 3" in body["error"]["message"]
        assert statuses == [200, 200, 200, 429, 429]
        assert await rows(database_url, table) == 3  # the refused calls ran nothing
    finally:
        stop_server(sp)
    records = [orjson.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["outcome"], r["error_code"]) for r in records][-2:] == [("refused", "rate_limited")] * 2
    rejected = [orjson.loads(line) for line in sp.log().splitlines() if "request_rejected" in line]
    assert [r["reason"] for r in rejected] == ["rate_limited", "rate_limited"]


async def test_concurrent_calls_over_the_limit_are_refused(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--stateless", "--json-response",
                      "--max-concurrent-calls", "1")  # fmt: skip
    try:
        statuses: list[int] = []

        async def slow() -> None:
            statuses.append((await post(sp, "pg_query", {"sql": "SELECT pg_sleep(1.5)"})).status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            await anyio.sleep(0.5)
            r = await post(sp, "pg_query", {"sql": "SELECT 1"})
            assert r.status_code == 429 and r.headers["retry-after"] == "1"
            assert "already running" in r.json()["error"]["message"]
        assert statuses == [200]
        assert (await post(sp, "pg_query", {"sql": "SELECT 1"})).status_code == 200  # the slot is free again
    finally:
        stop_server(sp)


async def test_stdio_limit_is_a_tool_error(database_url: str, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "composite", "serve", "--servers", "postgres", "--rate-limit", "2", "--audit-log", str(audit)],
        env=dict(os.environ),
    )
    async with Client(params) as c:
        ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
        ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
        text = error_text(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
        assert "[rate_limited]" in text and "retry in" in text
    records = [orjson.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["outcome"], r["error_code"], r["subject"]) for r in records] == [
        ("ok", None, "local"),
        ("ok", None, "local"),
        ("refused", "rate_limited", "local"),
    ]


async def test_limits_count_per_subject(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--stateless", "--json-response",
                      "--rate-limit", "2", env={"BAM_AUTH_TOKENS": "tok-limit-a,tok-limit-b"})  # fmt: skip
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=30) as h:

            async def call(token: str) -> httpx2.Response:
                headers = {**HEADERS, "authorization": f"Bearer {token}"}
                return await h.post("/mcp", json=tool_call("pg_query", {"sql": "SELECT 1"}), headers=headers)

            assert [(await call("tok-limit-a")).status_code for _ in range(3)] == [200, 200, 429]
            refused = await call("tok-limit-a")
            assert "'static-token-1'" in refused.json()["error"]["message"]
            assert [(await call("tok-limit-b")).status_code for _ in range(3)] == [200, 200, 429]
            bad = await call("tok-limit-WRONG")  # unauthenticated requests are refused 401, not counted
            assert bad.status_code == 401
    finally:
        stop_server(sp)
    assert "tok-limit" not in sp.log()


async def _delete_prefix(redis_url: str, prefix: str) -> list[str]:
    r: Any = aioredis.from_url(redis_url, decode_responses=True)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*")]
        if keys:
            await r.delete(*keys)
        return keys
    finally:
        await r.aclose()


async def test_two_processes_share_one_redis_backed_limit(database_url: str, redis_url: str, table: str) -> None:
    prefix = f"bam:test:limits:{uuid.uuid4().hex}:"
    env = {"BAM_RATE_LIMIT_REDIS": redis_url, "BAM_RATE_LIMIT_PREFIX": prefix}
    a = start_server(*WRITE_SERVER, "--rate-limit", "4", env=env)
    b = start_server(*WRITE_SERVER, "--rate-limit", "4", env=env)
    try:
        statuses = []
        for i in range(6):
            sp = (a, b)[i % 2]
            r = await post(sp, "pg_execute", {"sql": f"INSERT INTO {table} VALUES ({i})"}, rid=i)
            statuses.append(r.status_code)
        assert statuses == [200, 200, 200, 200, 429, 429]  # one limit of 4 across both processes
        assert await rows(database_url, table) == 4
    finally:
        stop_server(a)
        stop_server(b)
        keys = await _delete_prefix(redis_url, prefix)
    assert keys and all(k.startswith(f"{prefix}rate:") for k in keys)
    assert "local" not in "".join(keys)  # subjects are hashed into the key


async def test_an_unreachable_limit_store_refuses_calls(database_url: str, table: str) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    sp = start_server(*WRITE_SERVER, "--rate-limit", "100", "--rate-limit-redis", down)
    try:
        r = await post(sp, "pg_execute", {"sql": f"INSERT INTO {table} VALUES (1)"})
        assert r.status_code == 503 and "cannot be reached" in r.json()["error"]["message"]
        assert await rows(database_url, table) == 0
        assert down not in sp.log()
    finally:
        stop_server(sp)


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_sliding_window_and_slots(store: str, redis_url: str) -> None:
    prefix = f"bam:test:limits:{uuid.uuid4().hex}:"
    counters: Any = MemoryCounters(window_s=1.0) if store == "memory" else RedisCounters(redis_url, prefix, 1.0, 1.0)
    try:
        assert [await counters.take("alice", 3) for _ in range(3)] == [None, None, None]
        wait = await counters.take("alice", 3)
        assert wait is not None and 0 < wait <= 1.0
        assert await counters.take("bob", 3) is None  # per subject
        await anyio.sleep(1.1)
        assert await counters.take("alice", 3) is None  # the window slid
        first = await counters.acquire("alice", 2)
        second = await counters.acquire("alice", 2)
        assert first and second and await counters.acquire("alice", 2) is None
        assert await counters.in_flight("alice") == 2
        await counters.release("alice", first)
        assert await counters.in_flight("alice") == 1
        if store == "redis":  # a slot whose holder vanished expires with its lease
            await anyio.sleep(1.1)
            assert await counters.in_flight("alice") == 0
    finally:
        if store == "redis":
            await counters.client.aclose()
            await _delete_prefix(redis_url, prefix)
