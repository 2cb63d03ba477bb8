"""Structured stderr logging: one JSON line per event, one event per tool call, no arguments."""

from __future__ import annotations

import json
import logging

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from servers._common.logs import JsonLineFormatter, ToolCallLog

pytestmark = pytest.mark.anyio


async def test_each_tool_call_is_logged_without_its_arguments(caplog: pytest.LogCaptureFixture) -> None:
    server: MCPServer[object] = MCPServer("t", middleware=[ToolCallLog()], log_level="WARNING")

    def echo(secret: str) -> str:
        """Echo."""
        if secret == "fail":
            raise ToolError("nope")
        return "ok"

    server.add_tool(echo)
    caplog.set_level(logging.INFO, logger="backend_architect_mcp.calls")
    async with Client(server) as c:
        await c.call_tool("echo", {"secret": "hunter2"})
        await c.call_tool("echo", {"secret": "fail"})
    records = [r for r in caplog.records if r.name == "backend_architect_mcp.calls"]
    lines = [json.loads(JsonLineFormatter().format(r)) for r in records]
    assert [(x["tool"], x["outcome"]) for x in lines] == [("echo", "ok"), ("echo", "tool_error")]
    assert all(x["ms"] >= 0 and x["level"] == "info" for x in lines)
    assert "hunter2" not in caplog.text


def test_formatter_redacts_secrets_in_messages() -> None:
    rec = logging.LogRecord("x", logging.WARNING, __file__, 1, "connect to %s", ("redis://:pw@h:1/0",), None)
    line = json.loads(JsonLineFormatter().format(rec))
    assert "pw@" not in line["msg"] and line["level"] == "warning"
