"""HTTPS served directly (`--tls-cert`/`--tls-key`), the cap on open sessions and SSE connections
(`--max-sessions`) and the idle timeout that closes them (`--session-idle-s`)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.composite.conftest import start_server, stop_server
from tests.conftest import free_port, ok

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"accept": "application/json, text/event-stream"}


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP SAN) and its EC key, made here."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_https_served_directly(database_url: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "composite", "serve", "--transport", "http", "--servers", "postgres",
             "--host", "127.0.0.1", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
            stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ),
        )  # fmt: skip
    trust = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with httpx2.AsyncClient(verify=trust) as h:
                    if (await h.get(f"{base}/healthz")).status_code == 200:
                        break
            except httpx2.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                await anyio.sleep(0.2)
        async with (
            httpx2.AsyncClient(verify=trust) as hc,
            Client(streamable_http_client(f"{base}/mcp", http_client=hc)) as c,
        ):
            assert ok(await c.call_tool("pg_query", {"sql": "SELECT 'tls' AS via"}))["rows"] == [{"via": "tls"}]
        with pytest.raises(httpx2.TransportError):  # plain HTTP is not answered on the TLS port
            async with httpx2.AsyncClient() as h:
                await h.get(f"http://127.0.0.1:{port}/healthz")
        with pytest.raises(httpx2.TransportError):  # and the certificate is what the client checks
            async with httpx2.AsyncClient() as h:
                await h.get(f"{base}/healthz")
    finally:
        proc.terminate()
        proc.wait(10)


def test_tls_settings_that_cannot_be_applied_stop_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from composite.cli import main

    cert, key = self_signed(tmp_path)
    cases = [
        (["--tls-cert", str(cert)], "--tls-cert and --tls-key go together"),
        (["--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem")], "cannot be loaded"),
        (["--tls-cert", str(key), "--tls-key", str(key)], "cannot be loaded"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["serve", "--transport", "http", "--servers", "postgres", *args])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err, err


async def initialize(h: httpx2.AsyncClient) -> httpx2.Response:
    return await h.post("/mcp", json=INITIALIZE, headers=HEADERS)


async def test_session_cap_on_streamable_http_and_sse(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--json-response", "--max-sessions", "2")
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=10) as h:
            opened = [await initialize(h) for _ in range(2)]
            assert all(r.status_code == 200 and r.headers["mcp-session-id"] for r in opened)
            refused = await initialize(h)
            assert refused.status_code == 503 and "Too many open sessions" in refused.text
            async with h.stream("GET", "/sse") as s1, h.stream("GET", "/sse") as s2:
                assert s1.status_code == s2.status_code == 200
                third = await h.get("/sse")
                assert third.status_code == 503 and third.json()["error"] == "too_many_sessions"
            await anyio.sleep(0.2)
            async with h.stream("GET", "/sse") as s3:  # closed connections free their place
                assert s3.status_code == 200
    finally:
        stop_server(sp)
    assert "Traceback" not in sp.log()


async def _read_until_closed(stream: Any, timeout: float) -> list[str]:
    events: list[str] = []
    with anyio.fail_after(timeout):
        async for line in stream.aiter_lines():
            events.append(line)
    return events


async def test_idle_sessions_are_closed(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--json-response", "--session-idle-s", "1")
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=10) as h:
            session = (await initialize(h)).headers["mcp-session-id"]
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            headers = {**HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
            assert (await h.post("/mcp", json=ping, headers=headers)).status_code == 200  # alive while used
            await anyio.sleep(2.5)
            gone = await h.post("/mcp", json=ping, headers=headers)
            assert gone.status_code == 404  # the idle session was closed and forgotten

            started = time.monotonic()
            async with h.stream("GET", "/sse") as s:
                events = await _read_until_closed(s, timeout=10)
            took = time.monotonic() - started
            assert any(e.startswith("data: /messages/?session_id=") for e in events)
            assert 0.9 < took < 5, took  # the idle SSE stream was ended by the server
    finally:
        stop_server(sp)
    assert "Traceback" not in sp.log()


async def test_sse_activity_keeps_the_connection(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--session-idle-s", "1.5")
    try:
        from mcp.client.sse import sse_client

        async with Client(sse_client(f"{sp.base}/sse")) as c:
            for _ in range(4):  # 4 s of use, each pause shorter than the idle timeout
                ok(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
                await anyio.sleep(1.0)
    finally:
        stop_server(sp)
