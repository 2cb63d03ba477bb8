"""Bad input gets a clear error, nothing is lost, and the server stays up; stdout carries only protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import anyio
import pytest
from mcp import Client

from composite.app import build
from composite.settings import AppSettings
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_bad_calls_get_clear_errors_and_the_session_keeps_working(database_url: str) -> None:
    async with Client(build(AppSettings(servers="postgres")).server) as c:
        assert "Unknown tool" in error_text(await c.call_tool("pg_nope", {}))
        assert "sql" in error_text(await c.call_tool("pg_query", {}))  # missing required argument
        assert "limit" in error_text(await c.call_tool("pg_query", {"sql": "SELECT 1", "limit": -5}))
        assert "offset" in error_text(await c.call_tool("pg_query", {"sql": "SELECT 1", "offset": "x"}))
        huge = "SELECT " + " + ".join(["1"] * 50_000)
        r = await c.call_tool("pg_query", {"sql": huge})  # a 200 KB statement: answered, not fatal
        assert r.is_error or r.structured_content is not None
        assert ok(await c.call_tool("pg_query", {"sql": "SELECT 2 AS two"}))["rows"] == [{"two": 2}]


async def test_concurrent_calls_share_one_pool_without_interference(database_url: str) -> None:
    async with Client(build(AppSettings(servers="postgres")).server) as c:
        results: dict[int, object] = {}

        async def one(i: int) -> None:
            r = ok(await c.call_tool("pg_query", {"sql": "SELECT $1::int AS i, pg_sleep(0.05)", "params": [i]}))
            results[i] = r["rows"][0]["i"]

        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(one, i)
        assert results == {i: i for i in range(40)}


def test_stdout_carries_only_json_rpc(database_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "composite", "serve", "--servers", "postgres", "--log-level", "DEBUG"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "pg_query", "arguments": {"sql": "SELECT 1 AS one"}},
    }
    assert proc.stdin is not None and proc.stdout is not None
    for m in (init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, call):
        proc.stdin.write((json.dumps(m) + "\n").encode())
    proc.stdin.flush()
    parsed: list[dict[str, Any]] = []
    while not any(m.get("id") == 2 for m in parsed):
        line = proc.stdout.readline()
        assert line, "server closed stdout before answering"
        parsed.append(json.loads(line))  # every stdout line is a JSON-RPC message
    proc.stdin.close()
    proc.wait(timeout=30)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert all(m.get("jsonrpc") == "2.0" for m in parsed)
    answer = next(m for m in parsed if m.get("id") == 2)
    assert answer["result"]["structuredContent"]["rows"] == [{"one": 1}]
    events = [json.loads(line) for line in err.splitlines()]  # every stderr line is a structured log event
    assert any(e.get("tool") == "pg_query" and e.get("outcome") == "ok" for e in events)


async def test_every_module_under_a_concurrent_burst(
    database_url: str, redis_url: str, aws_endpoint: str, docker_host: str, kubeconfig: str
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("pg_query", {"sql": "SELECT 1 AS one"}),
        ("redis_info", {"sections": ["server"]}),
        ("k8s_namespaces_list", {}),
        ("aws_s3_buckets_list", {}),
        ("docker_containers_list", {}),
    ]
    async with Client(build(AppSettings()).server) as c:
        failures: list[str] = []

        async def one(name: str, args: dict[str, Any]) -> None:
            r = await c.call_tool(name, args)
            if r.is_error:
                failures.append(f"{name}: {r.content}")

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for _ in range(25):
                    for name, args in calls:
                        tg.start_soon(one, name, args)
    assert failures == []
