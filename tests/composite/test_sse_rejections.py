"""Malformed POSTs to the legacy SSE message endpoint (`/messages/`) of a real server process: each gets a
clear 4xx and exactly one `request_rejected` JSON line on stderr, never a traceback, and the session still
serves afterwards. Hand-written cases plus Hypothesis-generated bodies, query strings and content types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.composite.test_fuzz_protocol import INIT, OVERSIZED, _msg
from tests.fuzz import json_values

JSON = "application/json"
SESSION = "{session}"
"""Stands for the open session's id in a query string."""


@dataclass
class SseSession:
    sp: ServerProcess
    h: httpx2.Client
    lines: Iterator[str]
    session: str
    seen: int = 0

    def post(self, query: str, body: bytes, ctype: str | None = JSON, method: str = "POST") -> httpx2.Response:
        headers = {"content-type": ctype} if ctype is not None else {}
        url = "/messages/?" + query.replace(SESSION, self.session)
        return self.h.request(method, url, content=body, headers=headers)

    def new_lines(self) -> list[dict[str, Any]]:
        """The server's stderr lines since the last call, each parsed (fails on a line that is not JSON)."""
        text = self.sp.log()
        lines = text[self.seen :].splitlines()
        self.seen = len(text)
        assert "Traceback" not in text
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def sse(database_url: str) -> Iterator[SseSession]:
    sp = start_server("--transport", "sse", "--servers", "postgres")
    try:
        with httpx2.Client(base_url=sp.base, timeout=30) as h, h.stream("GET", "/sse") as stream:
            lines = stream.iter_lines()  # kept referenced: closing the iterator would end the SSE session
            endpoint = next(line[5:].strip() for line in lines if line.startswith("data:"))
            s = SseSession(sp, h, lines, endpoint.split("session_id=")[1])
            s.new_lines()
            yield s
    finally:
        stop_server(sp)


def _rejected_once(s: SseSession, status: int, reason: str | None = None) -> None:
    lines = s.new_lines()
    rejections = [x for x in lines if x.get("event") == "request_rejected"]
    assert len(lines) == len(rejections) == 1, lines
    assert rejections[0]["status"] == status, rejections
    assert reason is None or rejections[0]["reason"] == reason, rejections


INVALID_UTF8 = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "\xff"}}'
UNKNOWN = "session_id=" + "0" * 32
# (case, query, body, content type, HTTP method, status, reason)
CASES: list[tuple[str, str, bytes, str | None, str, int, str]] = [
    ("no session_id", "", b"{}", JSON, "POST", 400, "missing_session_id"),
    ("empty session_id", "session_id=", _msg(method="ping", id=1), JSON, "POST", 400, "invalid_session_id"),
    ("bad session_id", "session_id=zz%00", _msg(method="ping", id=1), JSON, "POST", 400, "invalid_session_id"),
    ("unknown session", UNKNOWN, _msg(method="ping", id=1), JSON, "POST", 404, "unknown_session"),
    ("text/plain", f"session_id={SESSION}", _msg(method="ping", id=1), "text/plain", "POST", 415, ""),
    ("no content type", f"session_id={SESSION}", _msg(method="ping", id=1), None, "POST", 415, ""),
    ("truncated JSON", f"session_id={SESSION}", b"{", JSON, "POST", 400, "invalid_message"),
    ("not JSON", f"session_id={SESSION}", b"\x00hello", JSON, "POST", 400, "invalid_message"),
    ("a JSON array", f"session_id={SESSION}", b"[]", JSON, "POST", 400, "invalid_message"),
    ("invalid UTF-8 in a string", f"session_id={SESSION}", INVALID_UTF8, JSON, "POST", 400, "invalid_message"),
    ("method is a number", f"session_id={SESSION}", _msg(id=3, method=5), JSON, "POST", 400, "invalid_message"),
    ("deep nesting", f"session_id={SESSION}", b"[" * 100_000 + b"]" * 100_000, JSON, "POST", 400, ""),
    ("oversized", f"session_id={SESSION}", OVERSIZED, JSON, "POST", 413, "body_too_large"),
    ("GET", f"session_id={SESSION}", b"", None, "GET", 405, "method_not_allowed"),
    ("PUT", f"session_id={SESSION}", b"{}", JSON, "PUT", 405, "method_not_allowed"),
]


@pytest.mark.parametrize(
    ("case", "query", "body", "ctype", "method", "status", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_malformed_posts_get_a_4xx_and_one_log_line(
    sse: SseSession, case: str, query: str, body: bytes, ctype: str | None, method: str, status: int, reason: str
) -> None:
    r = sse.post(query, body, ctype, method)
    assert r.status_code == status, (case, r.status_code, r.text)
    if status not in (404, 405):  # (those are the SDK's and Starlette's plain-text answers)
        assert r.json()  # a JSON body saying why
    _rejected_once(sse, status, reason or None)


QUERIES = st.one_of(
    st.just(f"session_id={SESSION}"),
    st.text(max_size=40).map(lambda t: "session_id=" + quote(t)),
    st.text(max_size=40).map(quote),
    st.binary(max_size=40).map(lambda b: quote(b, safe="=&")),
)
BODIES = st.binary(max_size=300) | json_values().map(lambda v: json.dumps(v).encode())
CTYPES = st.sampled_from([JSON, "application/json; charset=utf-8", "text/plain", None, "APPLICATION/JSON"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES, body=BODIES, ctype=CTYPES)
def test_generated_posts_are_answered_and_logged_once(
    sse: SseSession, query: str, body: bytes, ctype: str | None
) -> None:
    r = sse.post(query, body, ctype)
    assert r.status_code in (202, 400, 404, 413, 415), (query, body[:100], ctype, r.status_code, r.text)
    if r.status_code == 202:  # a valid message of the open session: taken, nothing logged
        assert not [x for x in sse.new_lines() if x.get("event") == "request_rejected"]
    else:
        _rejected_once(sse, r.status_code)


def test_the_session_still_serves_after_the_rejections(sse: SseSession) -> None:
    r = sse.post(f"session_id={SESSION}", json.dumps({**INIT, "id": "after"}).encode())
    assert r.status_code == 202
    answer = next(json.loads(line[5:]) for line in sse.lines if line.startswith("data:") and '"after"' in line)
    assert answer["result"]["serverInfo"]["name"] == "backend-architect-mcp"
    assert sse.sp.proc.poll() is None
    assert not [x for x in sse.new_lines() if x.get("event") == "request_rejected"]
