"""The audit log: one JSON line per tool call, field by field, over stdio, HTTP (with tokens) and discovery
mode; never an argument value, token or password; refused calls audited too."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from composite.audit import AuditLog, AuditSink, arguments_digest
from tests.composite.conftest import start_server, stop_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = {
    "ts",
    "event",
    "request_id",
    "subject",
    "client_id",
    "tool",
    "via",
    "args_sha256",
    "outcome",
    "error_code",
    "duration_ms",
    "transport",
}
SECRET_SQL = "SELECT 'pw-Zq8#hunter2-audit' AS password, 'AKIAAUDITSECRET12345' AS key"


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]


def digest(arguments: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_line(line: dict[str, Any], **expected: Any) -> None:
    assert set(line) == FIELDS
    assert TS.match(line["ts"]) and line["event"] == "tool_call"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    for key, value in expected.items():
        assert line[key] == value, (key, line)


async def test_stdio_calls_are_audited_as_local_without_argument_values(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "composite", "serve", "--servers", "postgres", "--audit-log", str(log)],
        env=dict(os.environ),
    )
    bad = {"sql": "SELEC 'pw-Zq8#hunter2-audit'"}
    async with Client(params) as c:
        ok(await c.call_tool("pg_query", {"sql": SECRET_SQL}))
        assert "42601" in error_text(await c.call_tool("pg_query", bad))
        error_text(await c.call_tool("pg_no_such_tool", {"password": "pw-Zq8#hunter2-audit"}))
    first, second, third = lines(log)
    check_line(first, subject="local", client_id=None, tool="pg_query", via=None, outcome="ok", error_code=None)
    assert first["args_sha256"] == digest({"sql": SECRET_SQL}) and first["transport"] == "stdio"
    assert first["request_id"] is not None and first["request_id"] != second["request_id"]
    check_line(second, tool="pg_query", outcome="tool_error", error_code="42601", args_sha256=digest(bad))
    check_line(third, tool="pg_no_such_tool", outcome="tool_error")
    text = log.read_text()
    assert "hunter2" not in text and "AKIAAUDITSECRET" not in text and "SELEC" not in text
    assert os.stat(log).st_mode & 0o077 == 0  # the audit file is the owner's only


async def test_http_calls_name_the_token_client_and_never_the_token(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    token = "tok-audit-Very-Secret-1"
    sp = start_server(
        "--transport", "http", "--servers", "postgres", "--audit-log", str(log),
        env={"BAM_AUTH_TOKENS": f"other-token,{token}"},
    )  # fmt: skip
    try:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as hc,
            Client(streamable_http_client(f"{sp.base}/mcp", http_client=hc)) as c,
        ):
            ok(await c.call_tool("pg_query", {"sql": SECRET_SQL}))
    finally:
        stop_server(sp)
    (line,) = lines(log)
    check_line(line, subject="static-token-2", client_id="static-token-2", tool="pg_query", outcome="ok")
    assert line["transport"] == "http" and line["args_sha256"] == digest({"sql": SECRET_SQL})
    for text in (log.read_text(), sp.log()):
        assert token not in text and "hunter2" not in text


async def test_discovery_calls_are_audited_with_the_inner_tool(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    sp = start_server("--transport", "http", "--servers", "postgres", "--discovery", "--audit-log", str(log))
    try:
        async with Client(f"{sp.base}/mcp") as c:
            inner = {"sql": SECRET_SQL}
            ok(await c.call_tool("tool_call", {"name": "pg_query", "arguments": inner}))
            ok(await c.call_tool("tools_search", {"query": "query"}))
    finally:
        stop_server(sp)
    first, second = lines(log)
    check_line(first, tool="pg_query", via="tool_call", outcome="ok", args_sha256=digest({"sql": SECRET_SQL}))
    check_line(second, tool="tools_search", via=None, outcome="ok")
    assert "hunter2" not in log.read_text()


async def test_audit_to_stderr_is_json_lines(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--audit-log", "-")
    try:
        async with Client(f"{sp.base}/mcp") as c:
            ok(await c.call_tool("pg_query", {"sql": SECRET_SQL}))
    finally:
        stop_server(sp)
    records = [orjson.loads(line) for line in sp.log().splitlines()]  # every stderr line is JSON
    (audit,) = [r for r in records if r.get("event") == "tool_call"]
    check_line(audit, tool="pg_query", outcome="ok")
    assert "hunter2" not in sp.log()


SECRETISH = st.one_of(
    st.text(min_size=6, max_size=40).map(lambda s: f"S3cr3t!{s}"),
    st.from_regex(r"(ghp_|AKIA|xoxb-|sk-)[A-Za-z0-9]{16,30}", fullmatch=True),
    st.from_regex(r"postgres://u:[a-zA-Z0-9]{8,20}@127\.0\.0\.1/db", fullmatch=True),
)
ARGS = st.dictionaries(
    st.sampled_from(["password", "token", "sql", "value", "secret_key", "env"]),
    st.one_of(SECRETISH, st.lists(SECRETISH, max_size=3), st.dictionaries(st.text(max_size=8), SECRETISH, max_size=2)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arguments=ARGS)
async def test_generated_secret_arguments_never_reach_the_audit_line(tmp_path: Path, arguments: dict[str, Any]) -> None:
    log = tmp_path / "gen.jsonl"
    log.unlink(missing_ok=True)
    server: MCPServer[Any] = MCPServer("audit-test", middleware=[AuditLog(AuditSink(str(log)))])

    @server.tool()
    def echo_len(
        password: Any = None,
        token: Any = None,
        sql: Any = None,
        value: Any = None,
        secret_key: Any = None,
        env: Any = None,
    ) -> int:
        """Count the arguments given."""
        return sum(v is not None for v in (password, token, sql, value, secret_key, env))

    async with Client(server) as c:
        await c.call_tool("echo_len", arguments)
    (line,) = lines(log)
    assert line["args_sha256"] == arguments_digest(arguments) == digest(arguments)
    raw = log.read_text()
    for leaf in _leaves(arguments):
        assert orjson.dumps(leaf).decode()[1:-1] not in raw


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]
