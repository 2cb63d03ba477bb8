"""TLS: `rediss://` against a real TLS-only redis-server on loopback, verified against a throwaway CA
(`BAM_REDIS_TLS_CA_FILE`); a server certificate from another CA is refused with an actionable error."""

from __future__ import annotations

import uuid

import pytest
from mcp import Client

from servers.redis import build_server
from servers.redis.client import resources
from servers.redis.settings import RedisSettings
from tests.conftest import error_text, ok
from tests.servers.redis.conftest import WRITES, TlsRedis, require_binary

pytestmark = pytest.mark.anyio

CLEAR = (
    "BAM_REDIS_URL",
    "BAM_REDIS_TLS_CA_FILE",
    "BAM_REDIS_TLS_INSECURE",
    "REDIS_CLUSTER_NODES",
    "BAM_REDIS_CLUSTER_NODES",
    "REDIS_SENTINELS",
    "BAM_REDIS_SENTINELS",
)


@pytest.fixture
def tls_env(tls_redis: TlsRedis, monkeypatch: pytest.MonkeyPatch) -> TlsRedis:
    """REDIS_URL=rediss://127.0.0.1:<tls port>/0, with no TLS setting yet."""
    for var in CLEAR:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REDIS_URL", tls_redis.url)
    return tls_redis


async def test_rediss_verifies_the_server_against_the_ca_file(
    tls_env: TlsRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_REDIS_TLS_CA_FILE", str(tls_env.ca_file))
    key = f"bamtest:{uuid.uuid4().hex[:10]}:tls"
    async with Client(build_server(WRITES)) as c:
        assert ok(await c.call_tool("redis_key_set", {"key": key, "value": "over tls", "ttl_ms": 60_000}))["applied"]
        got = ok(await c.call_tool("redis_key_get", {"key": key}))
        assert got["type"] == "string" and got["value"] == "over tls"
        info = ok(await c.call_tool("redis_info", {"sections": ["server"]}))
        # the server listens on TLS only (--port 0): the one port it reports is its TLS port
        assert info["summary"]["version"] and info["sections"]["server"]["tcp_port"] == tls_env.port
        assert ok(await c.call_tool("redis_keys_delete", {"keys": [key]}))["changed"] == 1
    async with resources(RedisSettings()) as r:
        h = await r.check()
    assert h.ok and h.target == f"127.0.0.1:{tls_env.port}/0"


async def test_a_certificate_from_another_ca_is_refused(tls_env: TlsRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_REDIS_TLS_CA_FILE", str(tls_env.wrong_ca_file))
    async with Client(build_server()) as c:
        msg = error_text(await c.call_tool("redis_info", {}))
    assert "certificate verify failed" in msg.lower(), msg
    assert "[TLS]" in msg and f"127.0.0.1:{tls_env.port}" in msg, msg
    assert "BAM_REDIS_TLS_CA_FILE" in msg, msg
    async with resources(RedisSettings()) as r:
        h = await r.check()
    assert h.status == "down" and "certificate verify failed" in h.detail.lower()


async def test_without_a_ca_file_the_system_store_refuses_the_throwaway_ca(tls_env: TlsRedis) -> None:
    async with Client(build_server()) as c:
        msg = error_text(await c.call_tool("redis_info", {}))
    assert "certificate verify failed" in msg.lower() and "BAM_REDIS_TLS_CA_FILE" in msg, msg


async def test_a_missing_ca_file_is_named(tls_env: TlsRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tls_env.ca_file.parent / "no-such-ca.crt"
    monkeypatch.setenv("BAM_REDIS_TLS_CA_FILE", str(missing))
    async with Client(build_server()) as c:
        msg = error_text(await c.call_tool("redis_info", {}))
    assert str(missing) in msg and "BAM_REDIS_TLS_CA_FILE" in msg, msg


async def test_insecure_mode_connects_without_verification(tls_env: TlsRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_REDIS_TLS_INSECURE", "true")
    async with Client(build_server()) as c:
        assert ok(await c.call_tool("redis_info", {}))["summary"]["version"]


def test_a_missing_binary_fails_the_fixture_instead_of_skipping() -> None:
    with pytest.raises(pytest.fail.Exception, match="must be installed"):
        require_binary("no-such-redis-server-binary", "redis-server")
