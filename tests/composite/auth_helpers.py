"""Test helpers for the resource server: keys generated here, a JWKS served on loopback, token minting,
and raw JSON-RPC over streamable HTTP (to see the HTTP status of each call)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://issuer.bam.test/realms/agents"
PUBLIC_URL = "https://bam.test"
AUDIENCE = f"{PUBLIC_URL}/mcp"
PROTOCOL = "2025-06-18"


@dataclass
class Key:
    kid: str
    alg: str
    private: Any

    @property
    def jwk(self) -> dict[str, Any]:
        pub = self.private.public_key()
        algo = jwt.algorithms.RSAAlgorithm if self.alg.startswith(("RS", "PS")) else jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = json.loads(algo.to_jwk(pub))
        return {**data, "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem


def rsa_key(alg: str = "RS256") -> Key:
    return Key(f"rsa-{uuid.uuid4().hex[:8]}", alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key() -> Key:
    return Key(f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1()))


def claims(scope: str = "", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "agent-1", "iat": now, "exp": now + 300}
    if scope:
        out["scope"] = scope
    return {**out, **extra}


def mint(key: Key, body: dict[str, Any], *, kid: str | None = None, alg: str | None = None) -> str:
    return jwt.encode(body, key.private, algorithm=alg or key.alg, headers={"kid": kid or key.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(body: dict[str, Any], kid: str) -> str:
    """`alg: none`."""
    head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{head}.{_b64(json.dumps(body).encode())}."


def hs256_with_public_key(key: Key, body: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HMAC-signed with the issuer's public key as the secret."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    signing_input = f"{head}.{_b64(json.dumps(body).encode())}"
    sig = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


@dataclass
class Jwks:
    """A JWKS document served on 127.0.0.1, replaceable at any time; counts its fetches."""

    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0

    def publish(self, *keys: Key) -> None:
        self.keys = [k.jwk for k in keys]


@contextmanager
def jwks_server(*keys: Key) -> Iterator[Jwks]:
    jwks = Jwks(url="")
    jwks.publish(*keys)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            jwks.fetches += 1
            body = json.dumps({"keys": jwks.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    jwks.url = f"http://127.0.0.1:{server.server_address[1]}/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield jwks
    finally:
        server.shutdown()
        server.server_close()


def auth_env(jwks: Jwks, **extra: str) -> dict[str, str]:
    return {"BAM_AUTH_ISSUER": ISSUER, "BAM_AUTH_JWKS_URL": jwks.url, "BAM_PUBLIC_URL": PUBLIC_URL, **extra}


class RawSession:
    """JSON-RPC over streamable HTTP with `--json-response`: every call's HTTP status is visible."""

    def __init__(self, base: str, token: str | None) -> None:
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        self.client = httpx2.AsyncClient(base_url=base, headers=self.headers, timeout=30)
        self.ids = 0

    async def post(self, method: str, params: dict[str, Any] | None = None) -> httpx2.Response:
        self.ids += 1
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": self.ids, "method": method}
        if params is not None:
            msg["params"] = params
        return await self.client.post("/mcp", json=msg)

    async def initialize(self) -> httpx2.Response:
        info = {"name": "t", "version": "1"}
        r = await self.post("initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": info})
        if r.status_code == 200:
            self.client.headers["mcp-session-id"] = r.headers["mcp-session-id"]
            self.client.headers["mcp-protocol-version"] = PROTOCOL
            await self.client.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    async def call(self, name: str, arguments: dict[str, Any]) -> httpx2.Response:
        return await self.post("tools/call", {"name": name, "arguments": arguments})

    async def tools(self) -> list[str]:
        r = await self.post("tools/list", {})
        assert r.status_code == 200, r.text
        return [t["name"] for t in r.json()["result"]["tools"]]

    async def aclose(self) -> None:
        await self.client.aclose()
