"""The lean stdio transport (asyncio pipes): same framing and shutdown as the SDK's, over a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.types import JSONRPCResponse

from composite.stdio import encode, lean_stdio_supported

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


def test_pipes_use_the_lean_transport_and_terminals_and_files_do_not(tmp_path: Any) -> None:
    r, w = os.pipe()
    try:
        assert lean_stdio_supported(r, w)
    finally:
        os.close(r)
        os.close(w)
    leader, follower = os.openpty()
    try:
        assert not lean_stdio_supported(follower, follower)
    finally:
        os.close(leader)
        os.close(follower)
    with open(tmp_path / "f", "w+") as f:
        assert not lean_stdio_supported(f.fileno(), f.fileno())


class Server:
    """`backend-architect-mcp serve` (stdio) as a subprocess spoken to in raw JSON-RPC lines."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "composite", "serve", "--servers", "postgres", "--log-level", "WARNING"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def send(self, message: dict[str, Any] | bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(message if isinstance(message, bytes) else orjson.dumps(message) + b"\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.endswith(b"\n"), f"no full line: {line[:200]!r} / {self.stderr()}"
        data: dict[str, Any] = orjson.loads(line)
        return data

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")[-2000:]

    def handshake(self) -> None:
        self.send(INIT)
        assert self.receive()["id"] == 1
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


@pytest.fixture
def server(database_url: str) -> Any:
    s = Server()
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait(10)


def test_eof_on_stdin_shuts_the_server_down_cleanly(server: Server) -> None:
    server.handshake()
    server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert any(t["name"] == "pg_query" for t in server.receive()["result"]["tools"])
    assert server.proc.stdin is not None
    started = time.monotonic()
    server.proc.stdin.close()
    assert server.proc.wait(15) == 0
    assert time.monotonic() - started < 10
    assert server.proc.stdout is not None and server.proc.stdout.read() == b""  # nothing after EOF
    assert server.proc.stderr is not None and "Traceback" not in server.proc.stderr.read().decode()


def test_large_messages_both_ways_and_a_bad_line_is_survived(server: Server) -> None:
    server.handshake()
    big = "x" * 3_000_000  # one 3 MB request line, and a response line of the same size
    server.send(
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {
                "name": "pg_query",
                "arguments": {"sql": "SELECT length($1::text) AS n, $1::text AS s", "params": [big]},
            },
        }
    )
    reply = server.receive()
    assert reply["id"] == 3 and not reply["result"].get("isError"), str(reply)[:500]
    row = reply["result"]["structuredContent"]["rows"][0]
    assert row["n"] == 3_000_000 and row["s"] == big
    server.send(b"this is not json\n")  # answered with a parse error (the SDK's transport drops it silently)
    assert server.receive()["error"]["code"] == -32700
    server.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})  # still serving after the bad line
    assert server.receive() == {"jsonrpc": "2.0", "id": 4, "result": {}}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON, request_id=st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=8))
def test_encode_writes_what_the_sdk_transport_writes(value: Any, request_id: Any) -> None:
    """orjson for responses (ints beyond 64 bits, lone surrogates: the model's line), one line each."""
    message = JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"v": value})
    ours = encode(message)
    sdk = message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
    assert ours.endswith(b"\n") and b"\n" not in ours[:-1]
    assert json.loads(ours) == json.loads(sdk)
