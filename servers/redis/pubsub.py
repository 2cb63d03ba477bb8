"""Pub/sub tools: a bounded listen (SUBSCRIBE / PSUBSCRIBE) and PUBLISH."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers._common.tools import READ, WRITE, tool
from servers.redis.base import call, collector, state_of
from servers.redis.client import text, value_json


class Message(BaseModel):
    channel: str
    pattern: str | None = None
    data: Any


class SubscribeResult(BaseModel):
    messages: list[Message]
    count: int
    waited_s: float
    stopped_by: Literal["max_messages", "timeout", "byte_cap"]
    truncated: bool = Field(description="True when the call stopped at max_messages or the byte cap")


@tool("Redis: listen on channels (bounded)", READ)
async def redis_subscribe(
    ctx: Context[Any, Any],
    channels: Annotated[list[str] | None, Field(description="Channels to SUBSCRIBE to")] = None,
    patterns: Annotated[list[str] | None, Field(description="Glob patterns to PSUBSCRIBE to")] = None,
    max_messages: Annotated[int, Field(ge=1, le=1000, description="Return after this many messages")] = 10,
    timeout_s: Annotated[float, Field(gt=0, description="Return after this many seconds")] = 5.0,
) -> SubscribeResult:
    """Listen on channels/patterns and return what arrives within `max_messages` or `timeout_s`; only messages
    published while listening are seen.
    """
    r = state_of(ctx)
    if not channels and not patterns:
        raise tool_error("subscribe", "give at least one channel or pattern", hint="e.g. channels=['events']")
    wait = min(timeout_s, r.settings.subscribe_max_seconds)
    col = collector(max_messages, r.settings.max_bytes)
    t0 = time.monotonic()
    stopped: Literal["max_messages", "timeout", "byte_cap"] = "timeout"
    try:
        client = await r.client()
        ps = client.pubsub()
        try:
            if channels:
                await ps.subscribe(*channels)
            if patterns:
                await ps.psubscribe(*patterns)
            while True:
                left = wait - (time.monotonic() - t0)
                if left <= 0:
                    break
                msg = await ps.get_message(ignore_subscribe_messages=True, timeout=min(left, 1.0))
                if msg is None:
                    continue
                item = {
                    "channel": text(msg.get("channel")),
                    "pattern": text(msg["pattern"]) if msg.get("pattern") else None,
                    "data": value_json(msg.get("data")),
                }
                if not col.add(item):
                    stopped = "byte_cap"
                    break
                if len(col.items) >= max_messages:
                    stopped = "max_messages"
                    break
        finally:
            with anyio.CancelScope(shield=True):
                await ps.aclose()
    except Exception as exc:
        raise r.translate(exc, "subscribe") from exc
    return SubscribeResult(
        messages=[Message(**m) for m in col.items],
        count=len(col.items),
        waited_s=round(time.monotonic() - t0, 3),
        stopped_by=stopped,
        truncated=stopped != "timeout",
    )


class PublishResult(BaseModel):
    channel: str
    receivers: int = Field(description="Subscribers that received the message (this node / shard)")


@tool("Redis: publish a message", WRITE)
async def redis_publish(
    ctx: Context[Any, Any],
    channel: Annotated[str, Field(min_length=1)],
    message: str,
) -> PublishResult:
    """Publish a message to a pub/sub channel (PUBLISH)."""
    n, _ = await call(ctx, "publish", lambda c: c.publish(channel, message))
    return PublishResult(channel=channel, receivers=int(n))
