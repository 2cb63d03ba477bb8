"""Malformed JSON-RPC over stdio (a subprocess), streamable HTTP and SSE (a real server process): bad JSON,
wrong types, huge ids, unknown methods, deep nesting and oversized messages get protocol errors (HTTP 4xx
or a JSON-RPC error object, never a 500, never silence on stdio), and the server keeps serving: a valid
call on the same session succeeds afterwards.

The size limit is 4 MiB per message on every transport: the SDK's HTTP transports answer 413 above it,
and our stdio transport (composite/stdio.py) answers -32600 and discards the line unread.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composite.stdio import MAX_MESSAGE_BYTES
from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.fuzz import json_values

PROTOCOL = "2025-11-25"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}},
}
VALID_CALL = {
    "jsonrpc": "2.0",
    "id": 99,
    "method": "tools/call",
    "params": {"name": "pg_query", "arguments": {"sql": "SELECT 1 AS one"}},
}


def _msg(**fields: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **fields}).encode()


# (case, line or body, the JSON-RPC error code expected)
MALFORMED: list[tuple[str, bytes, int]] = [
    ("truncated JSON", b'{"jsonrpc": "2.0", "id": 2, "method": "ping"', -32700),
    ("not JSON", b"hello", -32700),
    ("invalid UTF-8", b"\xff\xfe\xfd", -32700),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, -32700),
    ("a JSON array", b"[]", -32600),
    ("a JSON number", b"42", -32600),
    ("a batch", json.dumps([{"jsonrpc": "2.0", "id": 5, "method": "ping"}]).encode(), -32600),
    ("jsonrpc 1.0", json.dumps({"jsonrpc": "1.0", "id": 2, "method": "ping"}).encode(), -32600),
    ("method is a number", _msg(id=3, method=5), -32600),
    ("params is a string", _msg(id=6, method="tools/call", params="x"), -32600),
    ("unknown method", _msg(id=4, method="no/such/method"), -32601),
    ("arguments is a list", _msg(id=7, method="tools/call", params={"name": "pg_query", "arguments": [1]}), -32602),
    ("tool name is a number", _msg(id=8, method="tools/call", params={"name": 5}), -32602),
]
OVERSIZED = _msg(id=9, method="ping", params={"pad": "a" * (MAX_MESSAGE_BYTES + 1024)})
HUGE_IDS: list[int | str] = [10**100, -(2**70), "x" * 100_000, "\u202e\x00id"]


# --- HTTP ---------------------------------------------------------------------------------------------------


class HttpSession:
    """A raw streamable-HTTP session (initialize + initialized) on a real server process."""

    def __init__(self, sp: ServerProcess) -> None:
        self.h = httpx2.Client(base_url=sp.base, timeout=30)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        r = self.h.post("/mcp", json=INIT, headers=self.headers)
        assert r.status_code == 200, r.text
        self.headers |= {"mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": PROTOCOL}
        self.post(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode())

    def post(self, body: bytes) -> tuple[int, dict[str, Any] | None]:
        """HTTP status and the JSON-RPC message answered (from a JSON body or an SSE `data:` line)."""
        r = self.h.post("/mcp", content=body, headers=self.headers)
        text = r.text
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            text = next((line[5:] for line in text.splitlines() if line.startswith("data:")), "")
        try:
            return r.status_code, json.loads(text)
        except ValueError:
            return r.status_code, None

    def works(self) -> None:
        status, answer = self.post(json.dumps(VALID_CALL).encode())
        assert status == 200 and answer is not None, (status, answer)
        assert answer["result"]["structuredContent"]["rows"] == [{"one": 1}], answer


@pytest.fixture(scope="module")
def http_session(database_url: str) -> Iterator[tuple[ServerProcess, HttpSession]]:
    sp = start_server("--transport", "http", "--servers", "postgres")
    try:
        yield sp, HttpSession(sp)
    finally:
        stop_server(sp)


@pytest.mark.parametrize(("case", "body", "code"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_http_malformed_messages_get_protocol_errors(
    http_session: tuple[ServerProcess, HttpSession], case: str, body: bytes, code: int
) -> None:
    sp, s = http_session
    status, answer = s.post(body)
    assert status in (200, 400), (case, status, answer)
    assert answer is not None and "error" in answer, (case, answer)
    # The SDK answers an invalid (but parsed) message with -32602 over HTTP; stdio (ours) uses -32600.
    assert answer["error"]["code"] == code or (code == -32600 and answer["error"]["code"] == -32602), answer
    s.works()
    assert sp.proc.poll() is None


def test_http_oversized_body_gets_413_and_the_server_keeps_serving(
    http_session: tuple[ServerProcess, HttpSession],
) -> None:
    _, s = http_session
    status, _ = s.post(OVERSIZED)
    assert status == 413
    s.works()


@pytest.mark.parametrize("rid", HUGE_IDS, ids=["10**100", "-2**70", "100k-char", "controls"])
def test_http_huge_ids_are_echoed(http_session: tuple[ServerProcess, HttpSession], rid: int | str) -> None:
    _, s = http_session
    status, answer = s.post(_msg(id=rid, method="ping"))
    assert status == 200 and answer == {"jsonrpc": "2.0", "id": rid, "result": {}}


@settings(max_examples=40)
@given(body=st.binary(max_size=200) | json_values().map(lambda v: json.dumps(v).encode()))
def test_http_random_bodies_never_500(http_session: tuple[ServerProcess, HttpSession], body: bytes) -> None:
    sp, s = http_session
    status, _ = s.post(body)
    assert status < 500, (body[:200], status)
    assert sp.proc.poll() is None


def test_http_still_serves_after_the_fuzz(http_session: tuple[ServerProcess, HttpSession]) -> None:
    sp, s = http_session
    s.works()
    assert "Traceback" not in sp.log()


def test_sse_messages_endpoint_rejects_malformed_and_oversized_bodies(
    http_session: tuple[ServerProcess, HttpSession],
) -> None:
    sp, _ = http_session
    with httpx2.Client(base_url=sp.base, timeout=30) as h, h.stream("GET", "/sse") as stream:
        lines = stream.iter_lines()  # kept referenced: closing the iterator would end the SSE session
        endpoint = next(line[5:].strip() for line in lines if line.startswith("data:"))
        for body in (b"{", b"[]", _msg(id=3, method=5)):
            r = h.post(endpoint, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 400, (body, r.status_code, r.text)
        assert h.post(endpoint, content=OVERSIZED, headers={"content-type": "application/json"}).status_code == 413
        r = h.post(endpoint, content=json.dumps(INIT).encode(), headers={"content-type": "application/json"})
        assert r.status_code == 202  # the session still takes messages (the answer goes down the stream)


# --- stdio ----------------------------------------------------------------------------------------------------


class StdioServer:
    """`serve --servers postgres` over stdio, written and read line by line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "composite", "serve", "--servers", "postgres"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.buffer = b""
        assert self.request(json.dumps(INIT).encode())["id"] == 1
        self.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode())

    def send(self, line: bytes) -> None:
        self.stdin.write(line + b"\n")
        self.stdin.flush()

    def read(self, timeout: float = 20) -> dict[str, Any]:
        """The next line on stdout as JSON (unbuffered reads: `select` sees what is still unread)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no answer within {timeout}s"
            chunk = os.read(self.stdout.fileno(), 1 << 20)
            assert chunk, "the server closed stdout"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(self, line: bytes) -> dict[str, Any]:
        self.send(line)
        return self.read()

    def works(self) -> None:
        answer = self.request(json.dumps(VALID_CALL).encode())
        assert answer["id"] == 99 and answer["result"]["structuredContent"]["rows"] == [{"one": 1}], answer

    def close(self) -> str:
        self.stdin.close()
        assert self.proc.wait(30) == 0
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")


@pytest.fixture(scope="module")
def stdio_server(database_url: str) -> Iterator[StdioServer]:
    s = StdioServer()
    try:
        yield s
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


@pytest.mark.parametrize(("case", "line", "code"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_stdio_malformed_lines_get_protocol_errors(
    stdio_server: StdioServer, case: str, line: bytes, code: int
) -> None:
    answer = stdio_server.request(line)
    assert answer["jsonrpc"] == "2.0" and answer["error"]["code"] == code, (case, answer)
    stdio_server.works()


@pytest.mark.parametrize("rid", [{"a": 1}, [1], True, 1.5])
def test_stdio_request_with_an_invalid_id_is_answered(stdio_server: StdioServer, rid: Any) -> None:
    answer = stdio_server.request(_msg(id=rid, method="ping"))  # the SDK alone takes it for a notification
    assert answer["error"]["code"] == -32600 and answer["id"] is None, answer
    stdio_server.works()


@pytest.mark.parametrize("rid", [12345, None])
def test_stdio_client_error_responses_are_not_echoed(stdio_server: StdioServer, rid: Any) -> None:
    stdio_server.send(_msg(id=rid, error={"code": -32603, "message": "client side"}))  # a response, not a request
    assert stdio_server.request(_msg(id="after", method="ping")) == {"jsonrpc": "2.0", "id": "after", "result": {}}


def test_stdio_oversized_line_is_discarded_with_an_error(stdio_server: StdioServer) -> None:
    start = time.monotonic()
    answer = stdio_server.request(OVERSIZED + b" " + b"x" * (3 * MAX_MESSAGE_BYTES))  # 16 MiB on one line
    assert answer["error"]["code"] == -32600 and "larger than" in answer["error"]["message"], answer
    assert answer["id"] is None
    stdio_server.works()  # the rest of the line was discarded: the next line is read as a message
    print(f"16 MiB line discarded in {time.monotonic() - start:.2f}s")


@pytest.mark.parametrize("rid", HUGE_IDS, ids=["10**100", "-2**70", "100k-char", "controls"])
def test_stdio_huge_ids_are_echoed(stdio_server: StdioServer, rid: int | str) -> None:
    assert stdio_server.request(_msg(id=rid, method="ping")) == {"jsonrpc": "2.0", "id": rid, "result": {}}


@settings(max_examples=40)
@given(
    line=st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")).filter(lambda b: b.strip() != b"")
    | json_values().map(lambda v: json.dumps(v).encode())
)
def test_stdio_random_lines_get_an_answer_or_are_notifications(stdio_server: StdioServer, line: bytes) -> None:
    stdio_server.send(line)
    stdio_server.send(_msg(id="probe", method="ping"))  # answered after whatever the line produced
    answers = [stdio_server.read()]
    while answers[-1].get("id") != "probe":
        answers.append(stdio_server.read())
    assert all(a.get("jsonrpc") == "2.0" for a in answers)
    assert stdio_server.proc.poll() is None


def test_stdio_exits_cleanly_after_the_fuzz(stdio_server: StdioServer) -> None:
    stdio_server.works()
    assert "Traceback" not in stdio_server.close()
