"""Bounded pub/sub: SUBSCRIBE / PSUBSCRIBE with a message count and a timeout, and PUBLISH."""

from __future__ import annotations

import anyio
import pytest
import redis.asyncio as aioredis
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_subscribe_collects_at_most_n_messages(rw: Client, raw: aioredis.Redis, prefix: str) -> None:
    channel = prefix + "news"
    result: dict[str, object] = {}

    async def listen() -> None:
        result.update(
            ok(
                await rw.call_tool(
                    "redis_subscribe",
                    {"channels": [channel], "patterns": [prefix + "alerts.*"], "max_messages": 3, "timeout_s": 10},
                )
            )
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        receivers = 0
        for _ in range(200):  # publish until the subscription is live and the call has returned
            if result:
                break
            pub = ok(await rw.call_tool("redis_publish", {"channel": channel, "message": "hello"}))
            receivers = max(receivers, pub["receivers"])
            await raw.publish(prefix + "alerts.disk", "full")
            await anyio.sleep(0.05)
    assert receivers >= 1
    assert result["count"] == 3 and result["stopped_by"] == "max_messages" and result["truncated"] is True
    msgs = result["messages"]
    assert isinstance(msgs, list)
    assert {m["channel"] for m in msgs} <= {channel, prefix + "alerts.disk"}
    assert any(m["pattern"] == prefix + "alerts.*" and m["data"] == "full" for m in msgs) or all(
        m["data"] == "hello" for m in msgs
    )


async def test_subscribe_returns_after_the_timeout(ro: Client, prefix: str) -> None:
    r = ok(await ro.call_tool("redis_subscribe", {"channels": [prefix + "quiet"], "timeout_s": 0.5}))
    assert r["count"] == 0 and r["stopped_by"] == "timeout" and r["truncated"] is False
    assert 0.4 <= r["waited_s"] < 3
    err = error_text(await ro.call_tool("redis_subscribe", {}))
    assert "at least one channel" in err
