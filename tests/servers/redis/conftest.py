"""Real Redis for the redis module's tests: a dedicated db of REDIS_URL, unique key prefixes, servers in
read-only / write / admin modes, and the loopback cluster from scripts/backends/redis-cluster.sh."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from mcp import Client

from servers._common import ToolPolicy
from servers.redis import build_server

TEST_DB = int(os.environ.get("BAM_TEST_REDIS_DB", "11"))
WRITES = ToolPolicy(allow_writes=frozenset({"redis"}))
ADMIN = ToolPolicy(allow_writes=frozenset({"redis"}), allow_admin=frozenset({"redis"}))


def with_db(url: str, db: int) -> str:
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, f"/{db}", u.query, u.fragment))


@pytest.fixture
def test_url(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """REDIS_URL pointed at the test db for servers built in this test."""
    url = with_db(redis_url, TEST_DB)
    for var in ("REDIS_CLUSTER_NODES", "BAM_REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "BAM_REDIS_SENTINELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REDIS_URL", url)
    yield url


@pytest.fixture
async def raw(test_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain redis.asyncio client on the test db (to seed and to verify)."""
    client = aioredis.Redis.from_url(test_url, decode_responses=False)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(raw: aioredis.Redis) -> AsyncIterator[str]:
    """A unique key prefix; every key under it is removed after the test."""
    p = f"bamtest:{uuid.uuid4().hex[:10]}:"
    yield p
    keys = [k async for k in raw.scan_iter(match=p + "*", count=1000)]
    for i in range(0, len(keys), 500):
        await raw.unlink(*keys[i : i + 500])


@pytest.fixture
async def ro(test_url: str) -> AsyncIterator[Client]:
    async with Client(build_server()) as c:
        yield c


@pytest.fixture
async def rw(test_url: str) -> AsyncIterator[Client]:
    async with Client(build_server(WRITES)) as c:
        yield c


@pytest.fixture
async def admin(test_url: str) -> AsyncIterator[Client]:
    async with Client(build_server(ADMIN)) as c:
        yield c


@pytest.fixture(scope="session")
def cluster_url() -> str:
    """The 3-node loopback cluster. Missing FAILS the test (run scripts/backends/redis-cluster.sh)."""
    url = os.environ.get("REDIS_CLUSTER_URL")
    if not url:
        pytest.fail(
            "REDIS_CLUSTER_URL is unset: start the loopback cluster with "
            '`eval "$(scripts/backends/redis-cluster.sh)"` (or `.ci/run` / `make test`)',
            pytrace=False,
        )
    return url


async def fingerprint(raw: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """What an escape attempt could change: the keys under `prefix` with type, value digest and TTL."""
    out: dict[str, Any] = {}
    async for k in raw.scan_iter(match=prefix + "*", count=1000):
        dump = await raw.dump(k)
        out[k.decode()] = (await raw.type(k), dump, await raw.pttl(k) > 0)
    out["__dbsize"] = await raw.dbsize()
    return out
