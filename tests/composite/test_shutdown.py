"""Graceful shutdown against real backends: SIGTERM/SIGINT drains in-flight calls, cancels those past
`--shutdown-grace-s` (their backend work stops), closes every pool and exits 0; stdio exits cleanly
when stdin closes; `--workers N` forwards the signal. Each server gets its own PostgreSQL
application_name and Redis client name, so "nothing left" is exact even with other servers running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import asyncpg
import httpx2
import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.composite.conftest import ServerProcess, start_server
from tests.composite.rawhttp import pg_active, within
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def _owned(sp: ServerProcess) -> Iterator[ServerProcess]:
    """The server, killed at the end if the test failed before it exited."""
    try:
        yield sp
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()
            sp.proc.wait(10)


def _names() -> tuple[str, dict[str, str]]:
    name = f"bam-shutdown-{uuid.uuid4().hex[:10]}"
    return name, {"BAM_PG_APPLICATION_NAME": name, "BAM_REDIS_CLIENT_NAME": name}


async def _pg_sessions(name: str) -> int:
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        n = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name)
    finally:
        await conn.close()
    return int(n)


async def _redis_clients(name: str) -> int:
    r = aioredis.from_url(os.environ["REDIS_URL"])
    try:
        return sum(1 for c in await r.client_list() if c.get("name") == name)
    finally:
        await r.aclose()


async def _nothing_left(name: str) -> bool:
    return await _pg_sessions(name) == 0 and await _redis_clients(name) == 0


def _exit_code(sp: ServerProcess, timeout: float) -> int:
    try:
        return sp.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        sp.proc.kill()
        raise AssertionError(f"server still running {timeout}s after the signal:\n{sp.log()[-3000:]}") from None


async def _refuses(base: str) -> bool:
    try:
        async with httpx2.AsyncClient(base_url=base, timeout=1) as h:
            await h.get("/healthz")
    except httpx2.TransportError:
        return True
    return False


async def test_sigterm_lets_in_flight_calls_finish(database_url: str, redis_url: str) -> None:
    name, env = _names()
    sp = start_server("--transport", "http", "--servers", "postgres,redis", "--shutdown-grace-s", "10", env=env)
    with _owned(sp):
        got: dict[str, Any] = {}
        async with Client(f"{sp.base}/mcp") as c:
            ok(await c.call_tool("redis_key_get", {"key": name}))  # pooled connections exist
            ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))
            assert await _redis_clients(name) >= 1 and await _pg_sessions(name) >= 1

            async def slow() -> None:
                got["r"] = await c.call_tool("pg_query", {"sql": "SELECT pg_sleep(2) AS slept, 'drained' AS v"})
                got["at"] = time.monotonic()

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await anyio.sleep(0.5)
                signalled = time.monotonic()
                sp.proc.send_signal(signal.SIGTERM)
                await within(1.0, lambda: _refuses(sp.base))  # stops accepting at once
        assert ok(got["r"])["rows"][0]["v"] == "drained"  # the in-flight call finished, inside the grace
        code = await anyio.to_thread.run_sync(_exit_code, sp, 15.0)
        assert code == 0, sp.log()[-3000:]
        assert time.monotonic() - signalled < 8  # no wait for the whole grace once the calls are done
        assert await _nothing_left(name), "a pooled connection survived the shutdown"
        assert "Traceback" not in sp.log()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_calls_past_the_grace_are_cancelled(database_url: str, redis_url: str, sig: signal.Signals) -> None:
    name, env = _names()
    sp = start_server("--transport", "http", "--servers", "postgres,redis", env={**env, "BAM_SHUTDOWN_GRACE_S": "1"})
    with _owned(sp):
        marker = uuid.uuid4().hex
        got: dict[str, Any] = {}
        async with Client(f"{sp.base}/mcp") as c:
            ok(await c.call_tool("redis_key_get", {"key": name}))

            async def slow() -> None:
                got["r"] = await c.call_tool("pg_query", {"sql": f"SELECT pg_sleep(30) AS slept, '{marker}' AS m"})

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await anyio.sleep(0.7)
                signalled = time.monotonic()
                sp.proc.send_signal(sig)
        answered = time.monotonic() - signalled
        assert "shutting down" in error_text(got["r"])  # a tool error telling the client to retry
        assert 0.9 < answered < 4  # the grace (1 s), then the cancel
        code = await anyio.to_thread.run_sync(_exit_code, sp, 15.0)
        assert code == 0, sp.log()[-3000:]
        assert await _nothing_left(name)  # the query was cancelled on the server, the pools closed
        assert "Traceback" not in sp.log()


async def test_stdio_exits_cleanly_when_stdin_closes(database_url: str, redis_url: str) -> None:
    name, env = _names()
    proc = subprocess.Popen(
        [sys.executable, "-m", "composite", "serve", "--servers", "postgres,redis"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert proc.stdin is not None and proc.stdout is not None
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "pg_query", "arguments": {"sql": "SELECT 1 AS one"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "redis_key_get", "arguments": {"key": name}}},
    ]  # fmt: skip
    for line in lines:
        proc.stdin.write(json.dumps(line).encode() + b"\n")
    proc.stdin.flush()
    answered: set[int] = set()
    while len(answered) < 3:
        reply = json.loads(proc.stdout.readline())
        answered.add(reply["id"])
    assert await _pg_sessions(name) >= 1 and await _redis_clients(name) >= 1
    proc.stdin.close()
    code = await anyio.to_thread.run_sync(lambda: proc.wait(10))
    assert code == 0
    assert await _nothing_left(name)
    assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()


async def test_workers_forward_sigterm_and_exit_0(database_url: str) -> None:
    name, env = _names()
    # spawned workers import and build the whole server: slow on a loaded machine
    sp = start_server("--transport", "http", "--servers", "postgres", "--workers", "2", env=env, ready_timeout=90)
    with _owned(sp):
        for _ in range(4):
            async with Client(f"{sp.base}/mcp") as c:
                assert ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))["rows"] == [{"one": 1}]
        children = subprocess.run(["pgrep", "-P", str(sp.proc.pid)], capture_output=True, text=True).stdout.split()
        workers = [w for w in children if b"spawn_main" in _cmdline(w)]
        assert len(workers) >= 2
        sp.proc.send_signal(signal.SIGTERM)
        code = await anyio.to_thread.run_sync(_exit_code, sp, 15.0)
        assert code == 0, sp.log()[-3000:]
        assert not [w for w in workers if os.path.exists(f"/proc/{w}")]  # every worker exited before it
        assert await _nothing_left(name)


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


class _StdioServer:
    """`serve` over stdio; every stdout line kept with the time it arrived (a reader thread)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "composite", "serve", "--servers", "postgres,redis"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
        )
        self.lines: list[tuple[float, dict[str, Any]]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), json.loads(line)))  # stdout: JSON-RPC only

    def send(self, rid: int | None, method: str, params: dict[str, Any] | None = None) -> None:
        assert self.proc.stdin is not None
        message = {"jsonrpc": "2.0", "method": method, **({"id": rid} if rid is not None else {})}
        self.proc.stdin.write(json.dumps({**message, "params": params or {}}).encode() + b"\n")
        self.proc.stdin.flush()

    def call(self, rid: int, tool: str, arguments: dict[str, Any]) -> None:
        self.send(rid, "tools/call", {"name": tool, "arguments": arguments})

    def answer(self, rid: int) -> tuple[float, dict[str, Any]] | None:
        return next(((t, m) for t, m in self.lines if m.get("id") == rid), None)

    async def wait_answer(self, rid: int, seconds: float = 15) -> tuple[float, dict[str, Any]]:
        await within(seconds, lambda: _true(self.answer(rid) is not None))
        got = self.answer(rid)
        assert got is not None
        return got


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stdio_signal_drains_cancels_and_closes_the_pools(
    database_url: str, redis_url: str, sig: signal.Signals
) -> None:
    """Over stdio a signal takes the HTTP path: reading stops, calls within the grace finish, the rest get
    the shutting-down tool error (their query cancelled on the server), every pool closes, exit 0."""
    name, env = _names()
    s = _StdioServer({**env, "BAM_SHUTDOWN_GRACE_S": "2"})
    try:
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        s.send(1, "initialize", init)
        s.send(None, "notifications/initialized")
        s.call(2, "redis_key_get", {"key": name})
        await s.wait_answer(2, 30)
        marker = uuid.uuid4().hex
        s.call(3, "pg_query", {"sql": f"SELECT pg_sleep(30) AS slept, '{marker}' AS m"})
        await within(10, lambda: _eq(pg_active(marker, name), 1))
        s.call(4, "pg_query", {"sql": "SELECT pg_sleep(1) AS slept, 'drained' AS v"})
        await within(10, lambda: _eq(pg_active("drained", name), 1))
        signalled = time.monotonic()
        s.proc.send_signal(sig)
        await anyio.sleep(0.3)
        s.send(5, "ping")  # after the signal: not read any more
        _, drained = await s.wait_answer(4)
        assert drained["result"]["structuredContent"]["rows"][0]["v"] == "drained"  # finished within the grace
        at, cancelled = await s.wait_answer(3)
        assert cancelled["result"]["isError"] and "shutting down" in cancelled["result"]["content"][0]["text"]
        assert 1.9 < at - signalled < 5  # the grace (2 s), then the cancel
        code = await anyio.to_thread.run_sync(lambda: s.proc.wait(15))
        assert code == 0 and time.monotonic() - signalled < 8
        assert s.answer(5) is None
        assert await _nothing_left(name)  # the query was cancelled on the server, the pools closed
        assert s.proc.stderr is not None
        stderr = s.proc.stderr.read().decode()
        assert "Traceback" not in stderr and all(json.loads(line) for line in stderr.splitlines())
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


async def _eq(count: Any, want: int) -> bool:
    return bool(await count == want)
