"""Structured stderr logging: one JSON line per event, one event per tool call, no arguments."""

from __future__ import annotations

import io
import json
import logging

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from servers._common.logs import CALL_MESSAGE, JsonLineFormatter, ToolCallLog, configure_logging, json_handler

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


def test_the_call_line_written_directly_is_the_line_logging_writes() -> None:
    """`ToolCallLog` writes its line straight to `configure_logging`'s handler: the same JSON line (but for the
    time) as the record the logger would format, and the usual record whenever anything else is set up."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO")
        out = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(out)
        calls = ToolCallLog()
        assert json_handler(calls.log, logging.INFO) is handler
        calls.observe("pg_query", 0.0123, "ok")
        direct = json.loads(out.getvalue())
        out.truncate(0)
        out.seek(0)
        calls.log.info(CALL_MESSAGE, extra={"fields": {"tool": "pg_query", "ms": 12.3, "outcome": "ok"}})
        logged = json.loads(out.getvalue())
        assert direct.pop("ts")[:-5] == logged.pop("ts")[:-5]  # the same second (but at a second's turn)
        assert (
            direct
            == logged
            == {
                "level": "info",
                "logger": "backend_architect_mcp.calls",
                "msg": "tool call",
                "tool": "pg_query",
                "ms": 12.3,
                "outcome": "ok",
            }
        )
        calls.log.addFilter(lambda r: True)
        assert json_handler(calls.log, logging.INFO) is None  # a filter on the way: the usual record
        calls.log.filters.clear()
        root.addHandler(logging.NullHandler())
        assert json_handler(calls.log, logging.INFO) is None  # two handlers: the usual record
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
