"""Rejected requests: one JSON line each on stderr (bad Host, bad Origin, bad token), never a traceback,
whatever the hostile header holds."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.composite.conftest import ServerProcess, start_server, stop_server

pytestmark = pytest.mark.anyio

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
HEADERS = {"accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    sp = start_server("--transport", "http", "--servers", "postgres")
    yield sp
    stop_server(sp)


def log_lines(sp: ServerProcess) -> list[str]:
    return sp.log().splitlines()


async def settle(sp: ServerProcess, count: int) -> list[dict[str, object]]:
    """The JSON records of the last `count` log lines, once they are written."""
    for _ in range(50):
        lines = log_lines(sp)
        if len(lines) >= count:
            break
        await anyio.sleep(0.05)
    return [orjson.loads(line) for line in log_lines(sp)]


async def test_bad_host_on_sse_is_one_json_line_not_a_traceback(server: ServerProcess) -> None:
    before = len(log_lines(server))
    async with httpx2.AsyncClient(base_url=server.base, timeout=10) as h:
        r1 = await h.get("/sse", headers={"host": "evil.example:80"})
        r2 = await h.post("/mcp", json=PING, headers={**HEADERS, "host": "evil.example"})
        r3 = await h.post("/messages/?session_id=" + "0" * 32, json=PING, headers={"host": "evil.example"})
        r4 = await h.get("/sse", headers={"origin": "http://evil.example"})
        r5 = await h.post("/mcp", json=PING, headers={**HEADERS, "origin": "https://evil.example"})
    assert [r.status_code for r in (r1, r2, r3, r4, r5)] == [421, 421, 421, 403, 403]
    records = (await settle(server, before + 5))[before:]
    assert len(records) == 5, records  # one line per rejection, nothing else
    assert [r["reason"] for r in records] == ["invalid_host"] * 3 + ["invalid_origin"] * 2
    assert all(r["event"] == "request_rejected" and r["level"] == "warning" for r in records)
    assert records[0]["path"] == "/sse" and records[0]["status"] == 421 and records[0]["value"] == "evil.example:80"
    assert "Traceback" not in server.log()
    async with httpx2.AsyncClient(base_url=server.base) as h:  # probes are not guarded by Host
        assert (await h.get("/healthz", headers={"host": "pod-ip:8000"})).status_code == 200


HOSTILE = st.from_regex(r"x[!-~ ]{0,150}", fullmatch=True).map(str.strip)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hosts=st.lists(HOSTILE, min_size=10, max_size=10))
async def test_generated_hostile_hosts_each_log_one_json_line(server: ServerProcess, hosts: list[str]) -> None:
    before = len(log_lines(server))
    async with httpx2.AsyncClient(base_url=server.base, timeout=10) as h:
        for i, host in enumerate(hosts):
            headers = {"host": host or "x"}
            if i % 2:
                r = await h.get("/sse", headers=headers)
            else:
                r = await h.post("/mcp", json=PING, headers={**HEADERS, **headers})
            assert r.status_code == 421
    records = (await settle(server, before + len(hosts)))[before:]
    assert len(records) == len(hosts)
    assert {r["reason"] for r in records} == {"invalid_host"}
    assert "Traceback" not in server.log()


async def test_bad_tokens_are_one_json_line_each_without_the_token(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", env={"BAM_AUTH_TOKENS": "tok-gate-good"})
    try:
        before = len(log_lines(sp))
        async with httpx2.AsyncClient(base_url=sp.base, timeout=10) as h:
            bad = {"authorization": "Bearer tok-gate-WRONG-secret"}
            statuses = [
                (await h.post("/mcp", json=PING, headers={**HEADERS, **bad})).status_code,
                (await h.get("/sse", headers=bad)).status_code,
                (await h.post("/mcp", json=PING, headers=HEADERS)).status_code,
            ]
        assert statuses == [401, 401, 401]
        records = (await settle(sp, before + 3))[before:]
        assert [(r["reason"], r["status"]) for r in records] == [("invalid_token", 401)] * 3
        assert [r["path"] for r in records] == ["/mcp", "/sse", "/mcp"]
        assert "tok-gate" not in sp.log() and "Traceback" not in sp.log()
    finally:
        stop_server(sp)


HOST_PARTS = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "example.com", "127.0.0.5", "", ":", "*"])
HOST_VALUES = st.one_of(
    st.tuples(HOST_PARTS, st.sampled_from(["", ":8000", ":", ":*", "x", ":80:80"])).map("".join),
    st.text(max_size=30),
)
ORIGIN_VALUES = st.one_of(st.none(), st.tuples(st.sampled_from(["http://", "https://", ""]), HOST_VALUES).map("".join))


@settings(max_examples=400, deadline=None)
@given(
    host=st.one_of(st.none(), HOST_VALUES),
    origin=ORIGIN_VALUES,
    extra=st.lists(st.sampled_from(["example.com", "example.com:*", "127.0.0.5:8000", "*"]), max_size=3),
)
async def test_the_gate_refuses_exactly_what_the_sdk_check_refuses(
    host: str | None, origin: str | None, extra: list[str]
) -> None:
    """The gate's Host/Origin check on raw headers gives the verdict of the SDK's own, which runs after it."""
    from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
    from starlette.requests import Request

    from composite.gate import HostRules, effective_security

    security = effective_security(None, "127.0.0.1")
    assert security is not None
    security = TransportSecuritySettings(
        allowed_hosts=[*security.allowed_hosts, *extra],
        allowed_origins=[*security.allowed_origins, *(f"http://{h}" for h in extra)],
    )
    headers = [
        (k.encode(), v.encode("latin-1", "replace")) for k, v in (("host", host), ("origin", origin)) if v is not None
    ]
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, "query_string": b""}
    sdk = await TransportSecurityMiddleware(security).validate_request(Request(scope), is_post=False)
    ours = HostRules(security).refusal(scope)
    assert (ours[1] if ours else None) == (sdk.status_code if sdk else None)
