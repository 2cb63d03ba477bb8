"""The OAuth resource server against a real server process: JWTs signed by keys generated here and a JWKS
served on loopback; the bad-token matrix; key rotation; per-scope tool lists over /mcp and /sse; every
hidden tool called by name for each tier and scope; static tokens with scopes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio
import asyncpg
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from composite.app import build
from composite.auth import JWKS_MIN_REFETCH_S, Grants, parse_static_tokens
from composite.selection import Narrowing
from composite.settings import AppSettings
from tests.composite.auth_helpers import (
    AUDIENCE,
    ISSUER,
    PUBLIC_URL,
    Jwks,
    RawSession,
    auth_env,
    claims,
    ec_key,
    hs256_with_public_key,
    jwks_server,
    mint,
    rsa_key,
    unsigned,
)
from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

RSA, EC = rsa_key(), ec_key()
CANARY = f"bam_auth_canary_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    with jwks_server(RSA, EC) as j:
        yield j


@pytest.fixture
async def canary(database_url: str) -> AsyncIterator[str]:
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"CREATE TABLE IF NOT EXISTS public.{CANARY} (v text)")
    try:
        yield f"public.{CANARY}"
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS public.{CANARY}")
        await conn.close()


async def canary_rows(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        n: int = await conn.fetchval(f"SELECT count(*) FROM public.{CANARY}")
        return n
    finally:
        await conn.close()


def serve(jwks: Jwks, *args: str, **env: str) -> ServerProcess:
    return start_server("--transport", "http", "--json-response", *args, env=auth_env(jwks, **env))


async def test_bad_token_matrix_is_refused_with_the_right_status_and_runs_nothing(
    jwks: Jwks, canary: str, database_url: str
) -> None:
    sp = serve(jwks, "--servers", "postgres", "--allow-writes", "postgres")
    stranger = rsa_key()
    now = int(time.time())
    good = claims("postgres:write")
    bad: dict[str, str | None] = {
        "none": None,
        "malformed": "not-a-jwt",
        "malformed-3-parts": "a.b.c",
        "alg none": unsigned(good, RSA.kid),
        "HS256 with the public key": hs256_with_public_key(RSA, good),
        "wrong signature": mint(stranger, good, kid=RSA.kid, alg="RS256"),
        "EC key named as RSA": mint(EC, good, kid=RSA.kid),
        "expired": mint(RSA, {**good, "exp": now - 120}),
        "no exp": mint(RSA, {k: v for k, v in good.items() if k != "exp"}),
        "not yet valid": mint(RSA, {**good, "nbf": now + 120}),
        "wrong issuer": mint(RSA, {**good, "iss": "https://evil.test/realms/agents"}),
        "wrong audience": mint(RSA, {**good, "aud": "https://other.test/mcp"}),
        "unknown kid": mint(stranger, good),
    }
    insert = {"sql": f"INSERT INTO {canary} VALUES ('ran')"}
    try:
        for label, token in bad.items():
            s = RawSession(sp.base, token)
            try:
                r = await s.call("pg_execute", insert)
                assert r.status_code == 401, (label, r.status_code, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer"), label
                assert f"{PUBLIC_URL}/.well-known/oauth-protected-resource/mcp" in r.headers["www-authenticate"]
                assert (await s.client.get("/sse")).status_code == 401, label
            finally:
                await s.aclose()
        # Missing scope: authenticated, refused with 403 insufficient_scope naming the scope.
        s = RawSession(sp.base, mint(RSA, claims("postgres:read")))
        try:
            assert (await s.initialize()).status_code == 200
            r = await s.call("pg_execute", insert)
            assert r.status_code == 403, r.text
            www = r.headers["www-authenticate"]
            assert 'error="insufficient_scope"' in www and 'scope="postgres:write"' in www
            assert r.json()["error"]["data"] == {"scope": "postgres:write"}
        finally:
            await s.aclose()
        assert await canary_rows(database_url) == 0  # nothing ran
        # The same call with the scope runs (EC and RSA keys alike).
        for key in (RSA, EC):
            s = RawSession(sp.base, mint(key, good))
            try:
                assert (await s.initialize()).status_code == 200
                r = await s.call("pg_execute", insert)
                assert r.status_code == 200 and not r.json()["result"].get("isError"), r.text
            finally:
                await s.aclose()
        assert await canary_rows(database_url) == 2
        s = RawSession(sp.base, mint(RSA, {**good, "exp": now - 10}))  # expired, but within the 30 s leeway
        assert (await s.initialize()).status_code == 200
        await s.aclose()
        log = sp.log()
        assert all(t not in log for t in bad.values() if t and len(t) > 20)
        assert "Traceback" not in log
    finally:
        stop_server(sp)


async def test_key_rotation_and_rate_limited_refetch(jwks: Jwks, database_url: str) -> None:
    sp = serve(jwks, "--servers", "postgres")
    new = rsa_key("PS256")
    try:
        s = RawSession(sp.base, mint(RSA, claims("postgres:read")))
        assert (await s.initialize()).status_code == 200
        await s.aclose()
        # Unknown kids in a burst: at most one refetch per JWKS_MIN_REFETCH_S, never one per request.
        stranger = rsa_key()
        burst = [mint(stranger, claims("postgres:read"), kid=f"unknown-{i}") for i in range(30)]
        fetched, started = jwks.fetches, time.monotonic()
        for token in burst:
            s = RawSession(sp.base, token)
            assert (await s.initialize()).status_code == 401
            await s.aclose()
        windows = 1 + int((time.monotonic() - started) // JWKS_MIN_REFETCH_S)
        assert jwks.fetches - fetched <= windows < len(burst)
        # Rotation: the issuer publishes a new key and drops the old one.
        jwks.publish(new, EC)
        await anyio.sleep(JWKS_MIN_REFETCH_S + 0.5)
        s = RawSession(sp.base, mint(new, claims("postgres:read")))
        assert (await s.initialize()).status_code == 200  # unknown kid -> one refetch -> accepted
        assert "pg_query" in await s.tools()
        await s.aclose()
        s = RawSession(sp.base, mint(RSA, claims("postgres:read")))
        assert (await s.initialize()).status_code == 401  # the retired key no longer verifies
        await s.aclose()
    finally:
        stop_server(sp)


def expected_tools(settings: AppSettings, scope: str) -> set[str]:
    index = build(settings).index
    grants = Grants.from_scopes(scope.split())
    return {e.name for e in index.entries.values() if grants.allows(e.module, e.tier)}


SCOPE_CASES = [
    "postgres:read",
    "postgres:write",
    "redis:read postgres:write",
    "redis:admin",
    "*:read",
    "*:write",
    "*:admin",
    "openid profile",  # no module scope at all: nothing
    "postgres:read postgres:bogus docker:read",  # unknown tiers ignored; unmounted modules give nothing
]


async def test_per_scope_tool_lists_over_mcp_and_sse_and_every_hidden_tool_is_refused(
    jwks: Jwks, database_url: str, redis_url: str
) -> None:
    flags = ("--servers", "postgres,redis", "--allow-writes", "all", "--allow-admin", "all")
    settings = AppSettings(servers="postgres,redis", allow_writes="all", allow_admin="all")
    every = expected_tools(settings, "*:admin")
    tiers = {e.name: (e.module, e.tier) for e in build(settings).index.entries.values()}
    assert {t for _, t in tiers.values()} == {"read", "write", "admin"}
    sp = serve(jwks, *flags)
    try:
        for scope in SCOPE_CASES:
            token = mint(RSA, claims(scope))
            want = expected_tools(settings, scope)
            s = RawSession(sp.base, token)
            assert (await s.initialize()).status_code == 200
            assert set(await s.tools()) == want, scope
            for name in sorted(every - want):
                r = await s.call(name, {})
                module, tier = tiers[name]
                assert r.status_code == 403, (scope, name, r.text)
                assert f'scope="{module}:{tier}"' in r.headers["www-authenticate"], (scope, name)
            await s.aclose()
            async with Client(sse_client(f"{sp.base}/sse", headers={"Authorization": f"Bearer {token}"})) as c:
                assert {t.name for t in (await c.list_tools()).tools} == want, scope
                for name in sorted(every - want):
                    res = await c.call_tool(name, {})
                    assert res.is_error and f"needs the scope {tiers[name][0]}:{tiers[name][1]}" in error_text(res)
        # The SDK client over /mcp sees the refusal as an error naming the scope.
        token = mint(RSA, claims("postgres:read"))
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as h,
            Client(streamable_http_client(f"{sp.base}/mcp", http_client=h)) as c,
        ):
            ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))
            with pytest.raises(Exception, match="needs the scope postgres:write"):
                await c.call_tool("pg_execute", {"sql": "SELECT 1"})
    finally:
        stop_server(sp)


async def test_a_token_never_widens_the_server_policy(jwks: Jwks, database_url: str) -> None:
    sp = serve(jwks, "--servers", "postgres")  # read-only server
    try:
        s = RawSession(sp.base, mint(RSA, claims("*:admin postgres:write")))
        assert (await s.initialize()).status_code == 200
        names = await s.tools()
        assert "pg_query" in names and "pg_execute" not in names
        r = await s.call("pg_execute", {"sql": "SELECT 1"})
        assert r.status_code == 200 and r.json()["result"]["isError"]
        assert "Unknown tool: pg_execute" in r.text
        await s.aclose()
        meta = httpx2.get(f"{sp.base}/.well-known/oauth-protected-resource/mcp").json()
        assert meta["authorization_servers"] == [ISSUER] and meta["resource"] == AUDIENCE
        assert meta["scopes_supported"] == ["postgres:read"]  # no write scope where writes are off
    finally:
        stop_server(sp)


async def test_discovery_mode_enforces_scopes_at_call_time(jwks: Jwks, canary: str, database_url: str) -> None:
    sp = serve(jwks, "--servers", "postgres", "--allow-writes", "postgres", "--discovery")
    insert = {"name": "pg_execute", "arguments": {"sql": f"INSERT INTO {canary} VALUES ('x')"}}
    try:
        s = RawSession(sp.base, mint(RSA, claims("postgres:read")))
        assert (await s.initialize()).status_code == 200
        assert set(await s.tools()) == {"tools_search", "tools_describe", "tool_call"}
        r = await s.call("tool_call_write", insert)
        assert r.status_code == 403 and 'scope="postgres:write"' in r.headers["www-authenticate"]
        r = await s.call("tools_search", {})
        assert {t["access"] for t in r.json()["result"]["structuredContent"]["tools"]} == {"read"}
        r = await s.call("tools_describe", {"names": ["pg_execute"]})
        assert r.json()["result"]["structuredContent"]["unknown"] == ["pg_execute"]
        await s.aclose()
        assert await canary_rows(database_url) == 0
        token = mint(RSA, claims("postgres:read"))
        async with Client(sse_client(f"{sp.base}/sse", headers={"Authorization": f"Bearer {token}"})) as c:
            res = await c.call_tool("tool_call", insert)  # the in-handler check, without the HTTP gate
            assert res.is_error and "needs the scope postgres:write" in error_text(res)
            res = await c.call_tool("tool_call_write", insert)
            assert res.is_error and "Unknown tool: tool_call_write" in error_text(res)
        assert await canary_rows(database_url) == 0
    finally:
        stop_server(sp)


async def test_static_tokens_carry_scopes_and_advertise_no_authorization_server(database_url: str) -> None:
    spec = "tok-read-0123456789=postgres:read,tok-all-0123456789"
    sp = start_server(
        "--transport", "http", "--servers", "postgres", "--allow-writes", "postgres", "--json-response",
        env={"BAM_AUTH_TOKENS": spec},
    )  # fmt: skip
    try:
        for token, sees_writes in (("tok-read-0123456789", False), ("tok-all-0123456789", True)):
            s = RawSession(sp.base, token)
            assert (await s.initialize()).status_code == 200
            assert ("pg_execute" in await s.tools()) is sees_writes
            r = await s.call("pg_execute", {"sql": "SELECT 1"})
            assert r.status_code == (200 if sees_writes else 403)
            await s.aclose()
        r = httpx2.post(f"{sp.base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert r.status_code == 401 and "resource_metadata" not in r.headers["www-authenticate"]
        assert httpx2.get(f"{sp.base}/.well-known/oauth-protected-resource/mcp").status_code == 404
        assert "tok-read" not in sp.log() and "tok-all" not in sp.log()
    finally:
        stop_server(sp)


def test_static_token_syntax_keeps_only_digests() -> None:
    entries = parse_static_tokens("a=postgres:read redis:write, b==,sha256:" + "ab" * 32 + "=*:read,c")
    assert [s for _, s in entries] == [["postgres:read", "redis:write"], ["*:admin"], ["*:read"], ["*:admin"]]
    assert all(len(d) == 32 for d, _ in entries)
    app = build(AppSettings(servers="postgres", auth_tokens="secret-token-value=postgres:read"))  # type: ignore[arg-type]
    assert app.settings.auth_tokens is not None
    kept = app.settings.auth_tokens.get_secret_value()
    assert "secret-token-value" not in kept and kept.startswith("sha256:")
    for bad in ("", " , ", "t=postgress:read"):
        with pytest.raises(ValueError):
            parse_static_tokens(bad)


def test_grants_are_cumulative_and_narrowing_names_the_missing_scope() -> None:
    g = Grants.from_scopes(["postgres:write", "redis:read", "*:read"])
    assert g.allows("postgres", "read") and g.allows("postgres", "write") and not g.allows("postgres", "admin")
    assert g.allows("docker", "read") and not g.allows("redis", "write")
    index = build(AppSettings(servers="redis", allow_writes="all", allow_admin="all")).index
    n = Narrowing(grants=Grants.from_scopes(["redis:write"]))
    refused = index.refusal("redis_command", n)
    assert refused is not None and "needs the scope redis:admin" in error_text(refused)
    assert index.refusal("redis_key_get", n) is None


@pytest.mark.parametrize(
    "env",
    [
        {"BAM_AUTH_ISSUER": ISSUER},  # no JWKS
        {"BAM_AUTH_JWKS_URL": "http://127.0.0.1:9/certs"},  # no issuer
        {"BAM_AUTH_ISSUER": ISSUER, "BAM_AUTH_JWKS_URL": "http://issuer.bam.test/certs"},  # plain http, not loopback
        {"BAM_AUTH_TOKENS": "t", "BAM_PG_ROLE_CLAIM": "role"},  # claim without the allow-list
        {"BAM_PG_ROLE_CLAIM": "role", "BAM_PG_ROLES": "r"},  # mapping without authentication
        {"BAM_AUTH_TOKENS": "t", "BAM_K8S_IMPERSONATE_GROUPS_CLAIM": "groups"},  # groups need a user
    ],
)
def test_auth_settings_that_cannot_be_applied_stop_the_server(env: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if not k.startswith("BAM_")}
    r = subprocess.run(
        [sys.executable, "-m", "composite", "tools", "--servers", "postgres"],
        env={**base, **env},
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 2 and b"backend-architect-mcp:" in r.stderr, r.stderr[-500:]
