"""Cluster readiness follows a primary that dies and comes back (a private 3-node cluster on free ports)."""

from __future__ import annotations

import time

import anyio
import pytest

from servers._common import Health
from servers.redis.client import resources
from servers.redis.settings import RedisSettings
from tests.chaos import PrivateRedisCluster

pytestmark = pytest.mark.anyio


async def _until(check: object, want: str, timeout: float = 20) -> Health:
    start = time.monotonic()
    while True:
        h: Health = await check()  # type: ignore[operator]
        if h.status == want or time.monotonic() - start > timeout:
            return h
        await anyio.sleep(0.2)


async def test_readiness_pings_every_primary_and_needs_cluster_state_ok() -> None:
    rc = PrivateRedisCluster()
    rc.start()
    victim = rc.ports[2]
    try:
        settings = RedisSettings(cluster_nodes=f"127.0.0.1:{rc.ports[0]}")
        async with resources(settings) as r:
            assert (await r.check()).status == "up"
            rc.nodes[victim].kill()
            down = await _until(r.check, "down")
            # The seed node still answers PING: only a probe of every primary (or cluster_state) sees this.
            assert down.status == "down", down
            assert str(victim) in down.detail or "cluster_state" in down.detail, down
            rc.nodes[victim].start()
            rc.wait_ok()
            up = await _until(r.check, "up")
            assert up.status == "up", up
    finally:
        rc.close()
