"""p50 of a GET: raw redis.asyncio vs. redis_key_get / redis_command through the composite in-process.

Run: `make bench` (or `.venv/bin/python -m bench.bench_redis` with REDIS_URL set).
"""

from __future__ import annotations

import os
import uuid

import anyio
import redis.asyncio as aioredis
from mcp import Client

from bench.common import measure, table, write
from composite.app import build
from composite.settings import AppSettings


async def main() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    raw = aioredis.Redis.from_url(url)
    key = f"bam-bench:{uuid.uuid4().hex[:10]}"
    value = "v" * 100
    await raw.set(key, value)
    app = build(AppSettings(servers="redis"))
    try:
        async with Client(app.server) as client:

            async def raw_get() -> object:
                v = await raw.get(key)
                assert v is not None
                return v

            async def key_get() -> object:
                r = await client.call_tool("redis_key_get", {"key": key})
                assert not r.is_error and r.structured_content and r.structured_content["value"] == value
                return r

            async def command_get() -> object:
                r = await client.call_tool("redis_command", {"args": ["GET", key]})
                assert not r.is_error and r.structured_content and r.structured_content["result"] == value
                return r

            stats = await measure(
                {
                    "raw redis.asyncio GET": raw_get,
                    "composite redis_command GET": command_get,
                    "composite redis_key_get": key_get,
                },
                n=int(os.environ.get("BENCH_N", "500")),
                warmup=50,
            )
    finally:
        await raw.delete(key)
        await raw.aclose()
    notes = (
        f"Same process, interleaved round-robin, against redis-server over loopback ({url.split('@')[-1]}), "
        "a 100-byte string. `composite redis_command GET` = in-memory MCP client -> composite server -> "
        "COMMAND INFO classification (cached per connection) -> one GET -> capped, JSON-safe structured result. "
        "`composite redis_key_get` does TYPE + STRLEN + GETRANGE (three round trips: type-aware, byte-capped "
        "read with a cursor). The difference to the raw call is the MCP layer (validation, serialization) plus "
        "the extra round trips."
    )
    text = table("Redis: GET through the composite vs. raw redis.asyncio", stats, "raw redis.asyncio GET", notes)
    path = write("redis", text)
    print(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    anyio.run(main)
