"""`python -m servers.<name>` takes the flags of `serve` (HTTP, policy, --help, --version) for its one module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.composite.conftest import start_server, stop_server
from tests.composite.rawhttp import RawSession, pg_active, pg_backends, within
from tests.conftest import error_text, free_port, ok

pytestmark = pytest.mark.anyio


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"servers.{module}", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_serve_flags_and_exits() -> None:
    out = run("postgres", "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m servers.postgres")
    for flag in ("--transport", "--host", "--port", "--allow-writes", "--tools", "--auth-tokens", "--version"):
        assert flag in out.stdout


def test_bad_flags_are_refused_not_ignored() -> None:
    out = run("redis", "--transport", "carrier-pigeon")
    assert out.returncode == 2 and "invalid choice" in out.stderr
    out = run("redis", "--servers", "postgres")
    assert out.returncode == 2 and "serves only redis" in out.stderr


async def test_serves_http_with_policy_health_and_metrics(database_url: str) -> None:
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [sys.executable, "-m", "servers.postgres", "--transport", "http", "--host", "127.0.0.1", "--port", str(port),
         "--allow-writes", "pg", "--exclude-tools", "pg_explain"],
        stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        else:
            log.seek(0)
            pytest.fail(f"python -m servers.postgres did not come up: {log.read().decode()[-2000:]}")
        async with Client(f"{base}/mcp") as c:
            assert c.server_info is not None and c.server_info.name == "backend-architect-postgres"
            names = {t.name for t in (await c.list_tools()).tools}
            assert "pg_execute" in names and "pg_explain" not in names  # --allow-writes pg, --exclude-tools
            assert ok(await c.call_tool("pg_query", {"sql": "SELECT 2 AS two"}))["rows"] == [{"two": 2}]
        ready = httpx2.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200 and list(ready.json()["modules"]) == ["postgres"]
        metrics = httpx2.get(f"{base}/metrics", timeout=10).text
        assert 'bam_tool_calls_total{module="postgres",outcome="ok",tool="pg_query"} 1.0' in metrics
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


async def test_http_cancels_on_disconnect_and_drains_on_sigterm(database_url: str) -> None:
    """The composite's HTTP code path: a client that leaves cancels its query, SIGTERM waits the grace,
    cancels the call still running (a tool error), closes the pool and exits 0."""
    name = f"bam-standalone-{uuid.uuid4().hex[:10]}"
    env = {"BAM_PG_APPLICATION_NAME": name, "BAM_SHUTDOWN_GRACE_S": "1"}
    sp = start_server("--transport", "http", env=env, entry=("servers.postgres",))
    try:
        sleep = "SELECT pg_sleep(30) AS slept, '{}' AS marker"
        async with httpx2.AsyncClient(base_url=sp.base, timeout=60) as http:
            s = await RawSession(http).open()
            left = uuid.uuid4().hex
            async with anyio.create_task_group() as tg:
                tg.start_soon(s.call_and_leave, "pg_query", {"sql": sleep.format(left)}, 2.0)
                await within(1.9, lambda: _eq(pg_active(left, name), 1))  # it did run on the server
            await within(2.0, lambda: _eq(pg_active(left, name), 0))  # and was cancelled when the client left
        got: dict[str, Any] = {}
        async with Client(f"{sp.base}/mcp") as c:

            async def slow() -> None:
                got["r"] = await c.call_tool("pg_query", {"sql": sleep.format(uuid.uuid4().hex)})

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await anyio.sleep(0.7)
                signalled = time.monotonic()
                sp.proc.send_signal(signal.SIGTERM)
        assert "shutting down" in error_text(got["r"])
        assert 0.9 < time.monotonic() - signalled < 4  # the grace (1 s), then the cancel
        assert await anyio.to_thread.run_sync(lambda: sp.proc.wait(15)) == 0, sp.log()[-3000:]
        assert await _eq(pg_active("", name), 0) and not await pg_backends("", name)  # pool closed
        assert "Traceback" not in sp.log()
    finally:
        stop_server(sp)


async def _eq(count: Awaitable[int], want: int) -> bool:
    return await count == want


async def test_http_requires_the_configured_token(database_url: str) -> None:
    """`--auth-tokens` is enforced as by `serve` (the same call guards), not silently ignored."""
    sp = start_server("--transport", "http", env={"BAM_AUTH_TOKENS": "tok-0123456789"}, entry=("servers.postgres",))
    try:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        async with httpx2.AsyncClient(base_url=sp.base, timeout=30) as http:
            assert (await http.post("/mcp", json=ping)).status_code == 401
        async with (
            httpx2.AsyncClient(headers={"Authorization": "Bearer tok-0123456789"}) as hc,
            Client(streamable_http_client(f"{sp.base}/mcp", http_client=hc)) as c,
        ):
            assert ok(await c.call_tool("pg_query", {"sql": "SELECT 3 AS three"}))["rows"] == [{"three": 3}]
        assert "tok-0123456789" not in sp.log()
    finally:
        stop_server(sp)
