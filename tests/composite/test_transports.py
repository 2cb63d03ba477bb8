"""The composite over every transport: stdio (subprocess), streamable HTTP and SSE (one process, one
port), plus /healthz and /readyz following a real PostgreSQL that stops and restarts."""

from __future__ import annotations

import os
import sys
import time

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.composite.conftest import PrivatePostgres, ServerProcess, start_server, stop_server
from tests.conftest import ok

pytestmark = pytest.mark.anyio


async def test_stdio_subprocess_serves_tools(database_url: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "composite", "serve", "--servers", "postgres"],
        env=dict(os.environ),
    )
    async with Client(params) as c:
        data = ok(await c.call_tool("pg_query", {"sql": "SELECT 'stdio' AS via"}))
        assert data["rows"] == [{"via": "stdio"}]
        assert c.instructions is not None and "Senior Backend Engineer" in c.instructions


async def test_streamable_http_and_sse_from_one_process(http_server: ServerProcess) -> None:
    async with Client(f"{http_server.base}/mcp") as c:
        data = ok(await c.call_tool("pg_query", {"sql": "SELECT 'http' AS via"}))
        assert data["rows"] == [{"via": "http"}]
    async with Client(sse_client(f"{http_server.base}/sse")) as c:
        data = ok(await c.call_tool("pg_query", {"sql": "SELECT 'sse' AS via"}))
        assert data["rows"] == [{"via": "sse"}]
        assert {t.name for t in (await c.list_tools()).tools} >= {"pg_query", "pg_explain"}
    async with httpx2.AsyncClient(base_url=http_server.base) as h:
        assert (await h.get("/healthz")).json()["status"] == "ok"
        ready = await h.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["modules"]["postgres"]["status"] == "up"
    assert "Traceback" not in http_server.log()


async def test_stateless_http_mode(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--stateless", "--json-response")
    try:
        async with Client(f"{sp.base}/mcp") as c:
            data = ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))
            assert data["rows"] == [{"one": 1}]
    finally:
        stop_server(sp)


async def test_sse_only_transport(database_url: str) -> None:
    sp = start_server("--transport", "sse", "--servers", "postgres")
    try:
        async with Client(sse_client(f"{sp.base}/sse")) as c:
            ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
        async with httpx2.AsyncClient(base_url=sp.base) as h:
            assert (await h.post("/mcp", json={})).status_code == 404  # streamable HTTP is off
    finally:
        stop_server(sp)


async def _wait_ready(h: httpx2.AsyncClient, want: int, timeout: float) -> tuple[float, dict[str, object]]:
    start = time.monotonic()
    while True:
        r = await h.get("/readyz")
        if r.status_code == want:
            return time.monotonic() - start, r.json()
        if time.monotonic() - start > timeout:
            pytest.fail(f"/readyz stayed {r.status_code} for {timeout}s: {r.text}")
        await anyio.sleep(0.2)


async def test_readyz_follows_a_stopped_and_restarted_postgres(private_postgres: PrivatePostgres) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", env={"DATABASE_URL": private_postgres.url})
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=10) as h, Client(f"{sp.base}/mcp") as c:
            await _wait_ready(h, 200, 10)
            ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))

            private_postgres.stop()
            took, body = await _wait_ready(h, 503, 10)
            assert took < 5, f"/readyz took {took:.1f}s to notice"
            print(f"readyz noticed the stop after {took:.2f}s")
            pg = body["modules"]["postgres"]  # type: ignore[index]
            assert pg["status"] == "down" and pg["required"] is True  # type: ignore[index]
            r = await c.call_tool("pg_query", {"sql": "SELECT 1"})
            assert r.is_error and "DATABASE_URL" in r.content[0].text  # type: ignore[union-attr]
            assert (await h.get("/healthz")).status_code == 200  # alive, just not ready

            private_postgres.start()
            took, _ = await _wait_ready(h, 200, 15)
            assert took < 10
            print(f"readyz recovered {took:.2f}s after the restart")
            data = ok(await c.call_tool("pg_query", {"sql": "SELECT 'back' AS s"}))  # same session, no restart
            assert data["rows"] == [{"s": "back"}]
    finally:
        stop_server(sp)


async def test_bearer_token_auth_over_http_and_sse(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", env={"BAM_AUTH_TOKENS": "tok-a,tok-b"})
    try:
        async with httpx2.AsyncClient(base_url=sp.base) as h:
            r = await h.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
            assert (await h.get("/sse")).status_code == 401
            assert (await h.get("/healthz")).status_code == 200  # probes stay open
            # Static tokens have no authorization server: no metadata sends clients into an OAuth flow.
            assert (await h.get("/.well-known/oauth-protected-resource/mcp")).status_code == 404
        for token in ("tok-a", "tok-b"):
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as hc,
                Client(streamable_http_client(f"{sp.base}/mcp", http_client=hc)) as c,
            ):
                ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer wrong"}, base_url=sp.base) as h:
            assert (await h.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})).status_code == 401
        assert "tok-a" not in sp.log() and "tok-b" not in sp.log()
    finally:
        stop_server(sp)


async def test_workers_serve_stateless_http_from_several_processes(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--workers", "2")
    try:
        workers: list[str] = []
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:  # uvicorn's supervisor starts its workers
            with open(f"/proc/{sp.proc.pid}/task/{sp.proc.pid}/children") as f:
                children = f.read().split()
            workers = [c for c in children if b"spawn_main" in _cmdline(c)]  # not multiprocessing's tracker
            await anyio.sleep(0.2)
        assert len(workers) == 2, workers
        for i in range(8):  # fresh sessions: any request may land on any worker
            async with Client(f"{sp.base}/mcp") as c:
                data = ok(await c.call_tool("pg_query", {"sql": "SELECT $1::int AS i", "params": [i]}))
                assert data["rows"] == [{"i": i}]
        async with httpx2.AsyncClient(base_url=sp.base) as h:
            for _ in range(4):
                ready = await h.get("/readyz")
                assert ready.status_code == 200 and ready.json()["modules"]["postgres"]["status"] == "up"
            assert (await h.get("/sse")).status_code == 404  # SSE sessions live in one process: not served
        assert "Traceback" not in sp.log()
    finally:
        stop_server(sp)


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


async def test_workers_need_http() -> None:
    import subprocess

    r = subprocess.run(
        [sys.executable, "-m", "composite", "serve", "--transport", "sse", "--workers", "2", "--servers", "postgres"],
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 2 and b"--workers needs --transport http" in r.stderr
