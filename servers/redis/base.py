"""What the Redis tool files share: the lifespan state, parameter types, cursors,
the SCAN loop, stream-entry paging and the write-result shape with its call helper."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import CappedItems, json_size, tool_error
from servers._common.paging import page_limit
from servers._common.state import StateOf
from servers.redis.client import Redis, plain, text, value_json

KEY = "redis"

Key = Annotated[str, Field(min_length=1)]  # the exact key name (patterns go in `pattern`)
Cursor = str | None  # the previous page's next_cursor
Limit = Annotated[int | None, page_limit(100)]  # page size (default 100, capped by the server)
Node = Annotated[
    str | None,
    Field(description="Cluster node host:port (default: the first primary)"),
]
RedisType = Literal["string", "hash", "list", "set", "zset", "stream", "ReJSON-RL"]

LENGTH_CMD = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}
"""The O(1) length command of each type."""


state_of = StateOf(KEY, Redis)
"""The module's lifespan object for a tool call."""


def bad_cursor(cursor: str, what: str) -> Exception:
    return tool_error(
        f"read {what}", f"invalid cursor {cursor!r}", hint="pass back `next_cursor` unchanged, or omit it to start over"
    )


def parse_scan_cursor(cursor: str | None, what: str, *, with_node: bool = False) -> tuple[int, int, int]:
    """`node:scan:skip` (node only with_node) -> (node, scan cursor, items to skip in that batch)."""
    if not cursor:
        return 0, 0, 0
    parts = cursor.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise bad_cursor(cursor, what) from None
    if with_node and len(nums) == 3:
        return nums[0], nums[1], nums[2]
    if not with_node and len(nums) == 2:
        return 0, nums[0], nums[1]
    raise bad_cursor(cursor, what)


def json_item(item: Any) -> int:
    """Bytes of an item that is already a JSON value (or a raw key name), measured as it is."""
    return json_size(item) + 1


def collector(limit: int, max_bytes: int) -> CappedItems[Any]:
    """A capped page of such items."""
    return CappedItems(limit, max_bytes, json_item)


async def scan_pages(
    fetch: Callable[[int], Awaitable[tuple[int, list[Any]]]],
    convert: Callable[[Any], Any],
    col: CappedItems[Any],
    scan_cursor: int,
    skip: int,
    *,
    deadline: float | None = None,
) -> tuple[int | None, int, bool]:
    """Drive a *SCAN loop into `col`; returns (cursor to resume or None when done, skip, stopped by caps)."""
    cur = scan_cursor
    while True:
        nxt, batch = await fetch(cur)
        batch = batch[skip:] if skip else batch
        for taken, raw in enumerate(batch):
            if not col.add(convert(raw)):
                return cur, skip + taken, True
        skip = 0
        cur = int(nxt)
        if cur == 0:
            return None, 0, False
        if col.full():
            return cur, 0, True
        if deadline is not None and time.monotonic() > deadline:
            return cur, 0, False


def collect_entries(col: CappedItems[Any], entries: list[Any]) -> str | None:
    """Stream entries (fetched with count=page+1) into `col`; the exclusive id of the next page, if any."""
    for eid, fields in entries:
        if not col.add({"id": text(eid), "fields": {text(k): value_json(v) for k, v in fields.items()}}):
            break
    more = len(col.items) < len(entries)
    last = col.items[-1]["id"] if col.items else None
    return f"({last}" if more and last else None


def pairs(reply: Any) -> dict[str, Any]:
    """A map reply (RESP3 dict or RESP2 flat list) as a JSON-friendly dict."""
    if isinstance(reply, dict):
        return {text(k): plain(v) for k, v in reply.items()}
    flat = list(reply or [])
    return {text(flat[i]): plain(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


# ---------------------------------------------------------------------------------------- writes


class WriteResult(BaseModel):
    key: str
    applied: bool = Field(description="False when a condition (NX/XX, missing key) prevented the change")
    changed: int | None = Field(default=None, description="Elements/fields/keys added, removed or acknowledged")
    length: int | None = Field(default=None, description="Length of the key afterwards, when cheap to know")
    ttl_ms: int | None = Field(default=None, description="TTL afterwards (-1: none)")
    values: list[Any] | None = Field(default=None, description="Popped values / previous value")
    id: str | None = Field(default=None, description="Stream entry id")


Op = Callable[[Any], Awaitable[Any]]


async def call(ctx: Context[Any, Any], action: str, op: Op, then: Op | None = None) -> tuple[Any, Any]:
    """`op(client)`, then `then(client)` when given (the new length or TTL); errors translated as `action`."""
    r = state_of(ctx)
    try:
        client = await r.client()
        result = await op(client)
        after = await then(client) if then is not None else None
    except Exception as exc:
        raise r.translate(exc, action) from exc
    return result, after


async def counted(ctx: Context[Any, Any], action: str, key: str, op: Op, length: Op) -> WriteResult:
    """A write returning how many elements it changed, followed by the key's new length."""
    n, ln = await call(ctx, action, op, length)
    return WriteResult(key=key, applied=int(n) > 0, changed=int(n), length=int(ln))


def ttl_or_none(ttl: Any) -> int | None:
    """PTTL as reported (-1: no expiry); None when the key is gone (-2)."""
    return int(ttl) if int(ttl) >= -1 else None
