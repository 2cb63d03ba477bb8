"""`doctor --policy` against the real backends: the effective policy per tier, and what the credentials
themselves may do (PostgreSQL role, Redis ACL, Kubernetes rules review, AWS identity), flagged when they
are more powerful than the policy."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
import pytest
import redis

pytestmark = pytest.mark.anyio


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    r = subprocess.run(
        [sys.executable, "-m", "composite", "doctor", "--policy", "--json", *args],
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert r.returncode in (0, 1), r.stderr.decode()
    return r.returncode, orjson.loads(r.stdout)


def by_module(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["module"]: c for c in report["credentials"]}


async def test_admin_credentials_behind_a_read_only_policy_are_flagged(
    database_url: str, redis_url: str, kubeconfig: str, aws_endpoint: str
) -> None:
    rc, report = doctor("--servers", "postgres,redis,kubernetes,aws")
    assert rc == 1
    policy = report["policy"]
    assert policy["allow_writes"] == "(none)"
    pg_tiers = policy["modules"]["postgres"]
    assert "pg_query" in pg_tiers["read"]["exposed"] and "pg_execute" in pg_tiers["destructive"]["hidden"]
    assert pg_tiers["write"]["exposed"] == [] and "redis_command" in policy["modules"]["redis"]["admin"]["hidden"]
    creds = by_module(report)
    pg = creds["postgres"]
    assert pg["principal"] == urlsplit(database_url).username
    assert pg["facts"]["rolsuper"] is True and pg["facts"]["default_transaction_read_only"] == "off"
    assert set(pg["powers"]) == {"write", "admin"} and len(pg["warnings"]) == 2
    rd = creds["redis"]
    assert rd["principal"] == "default" and "+@all" in rd["facts"]["categories"] and rd["warnings"]
    k8s = creds["kubernetes"]
    assert any("*" in r["verbs"] for r in k8s["facts"]["resource_rules"]) and "write" in k8s["powers"]
    aws = creds["aws"]
    assert aws["principal"].startswith("arn:aws:") and aws["facts"]["account"] and aws["error"] is None


async def test_granting_the_tiers_clears_the_warnings(database_url: str) -> None:
    rc, report = doctor("--servers", "postgres", "--allow-writes", "postgres", "--allow-admin", "postgres")
    assert rc == 0 and by_module(report)["postgres"]["warnings"] == []
    assert "pg_execute" in report["policy"]["modules"]["postgres"]["destructive"]["exposed"]


@pytest.fixture
async def least_privilege(database_url: str, redis_url: str) -> AsyncIterator[dict[str, str]]:
    """A read-only PostgreSQL role and a read-only Redis ACL user, made for this test and removed after."""
    name, password = f"bam_doctor_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    pg = urlsplit(database_url)
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    await conn.execute(f"ALTER ROLE {name} SET default_transaction_read_only = on")
    r: Any = redis.Redis.from_url(redis_url)
    r.execute_command(
        "ACL", "SETUSER", name, "on", f">{password}", "~bamdoctor:*", "+@read", "+acl|whoami", "+acl|getuser"
    )
    host = f"{name}:{password}@{pg.hostname}:{pg.port or 5432}"
    rd = urlsplit(redis_url)
    try:
        yield {
            "DATABASE_URL": urlunsplit((pg.scheme, host, pg.path, pg.query, "")),
            "REDIS_URL": urlunsplit((rd.scheme, f"{name}:{password}@{rd.hostname}:{rd.port or 6379}", rd.path, "", "")),
        }
    finally:
        r.execute_command("ACL", "DELUSER", name)
        r.close()
        await conn.execute(f"DROP ROLE IF EXISTS {name}")
        await conn.close()


async def test_least_privilege_credentials_pass(least_privilege: dict[str, str]) -> None:
    rc, report = doctor("--servers", "postgres,redis", env=least_privilege)
    creds = by_module(report)
    pg, rd = creds["postgres"], creds["redis"]
    assert pg["principal"].startswith("bam_doctor_") and pg["facts"]["default_transaction_read_only"] == "on"
    assert pg["facts"]["rolsuper"] is False and pg["powers"] == [] and pg["warnings"] == []
    assert rd["principal"].startswith("bam_doctor_") and "+@read" in rd["facts"]["categories"]
    assert rd["powers"] == [] and rd["warnings"] == []
    assert rc == 0
    text = orjson.dumps(report).decode()
    assert least_privilege["DATABASE_URL"].split(":")[2].split("@")[0] not in text  # no password in the output
