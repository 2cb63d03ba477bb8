"""The aws module inside the composite (shared lifespan, health) and as a stdio server of its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from composite.app import build
from composite.settings import AppSettings
from tests.conftest import ok

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[3]


async def test_composite_mounts_aws_and_reports_health(aws_endpoint: str) -> None:
    app = build(AppSettings(servers="aws", allow_writes="aws"))
    assert "aws_call" in app.tool_names and "aws_call_write" in app.tool_names
    async with Client(app.server) as c:
        who = ok(await c.call_tool("aws_caller_identity", {}))
        assert who["account"] == "123456789012"
    [health] = await app.runtime.health()
    assert health.module == "aws" and health.ok and health.latency_ms is not None


async def test_read_only_composite_and_down_backend(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BAM_AWS_MAX_ATTEMPTS", "1")
    app = build(AppSettings(servers="aws"))
    assert "aws_call" in app.tool_names and "aws_call_write" not in app.tool_names
    [health] = await app.runtime.health(timeout=10)
    assert health.status == "down" and "127.0.0.1:9" in health.detail


async def test_standalone_stdio_server(aws_endpoint: str) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "BAM_", "PATH", "HOME"))}
    params = StdioServerParameters(command=sys.executable, args=["-m", "servers.aws"], cwd=str(ROOT), env=env)
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "aws_call" in names and "aws_call_write" not in names
        r = ok(await c.call_tool("aws_call", {"service": "sts", "operation": "GetCallerIdentity"}))
        assert r["result"]["Account"] == "123456789012"
