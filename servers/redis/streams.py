"""Stream tools: ranges, XINFO, consumer-group pending entries, and the stream writes (XADD, XGROUP
CREATE, XACK)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers.redis.base import (
    Collector,
    Key,
    Limit,
    WriteResult,
    call,
    collect_entries,
    page_size,
    pairs,
    state,
)
from servers.redis.client import text, translate


class StreamEntry(BaseModel):
    id: str
    fields: dict[str, Any]


class StreamPage(BaseModel):
    key: str
    entries: list[StreamEntry]
    count: int
    truncated: bool
    next_cursor: str | None = Field(
        description="Exclusive id to pass as `start` (forward) or `end` (reverse) for the next page"
    )


async def redis_stream_range(
    ctx: Context[Any, Any],
    key: Key,
    start: Annotated[str, Field(description="First id (inclusive; '(' prefix = exclusive); '-' = oldest")] = "-",
    end: Annotated[str, Field(description="Last id (inclusive); '+' = newest")] = "+",
    reverse: Annotated[bool, Field(description="Newest first (XREVRANGE)")] = False,
    limit: Limit = None,
) -> StreamPage:
    """Read stream entries between two ids with XRANGE/XREVRANGE, one capped page at a time."""
    r = state(ctx)
    page = page_size(r, limit)
    col = Collector(page, r.settings.max_bytes)
    try:
        client = await r.client()
        if reverse:
            entries = await client.xrevrange(key, end, start, count=page + 1)
        else:
            entries = await client.xrange(key, start, end, count=page + 1)
    except Exception as exc:
        raise translate(exc, "read the stream", r) from exc
    next_cursor = collect_entries(col, entries)
    return StreamPage(
        key=key,
        entries=[StreamEntry(**e) for e in col.items],
        count=len(col.items),
        truncated=next_cursor is not None,
        next_cursor=next_cursor,
    )


class StreamInfo(BaseModel):
    key: str
    stream: dict[str, Any] = Field(description="XINFO STREAM: length, first/last entry, last id, groups")
    groups: list[dict[str, Any]] = Field(description="XINFO GROUPS: name, consumers, pending, last-delivered-id, lag")
    consumers: list[dict[str, Any]] | None = Field(description="XINFO CONSUMERS of `group` (when given)")


async def redis_stream_info(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str | None, Field(description="Also list this consumer group's consumers")] = None,
) -> StreamInfo:
    """Stream metadata (XINFO STREAM), its consumer groups (XINFO GROUPS) and a group's consumers."""
    r = state(ctx)
    try:
        stream = pairs(await r.key_command(key, "XINFO", "STREAM", key))
        groups = [pairs(g) for g in await r.key_command(key, "XINFO", "GROUPS", key)]
        consumers = None
        if group:
            consumers = [pairs(c) for c in await r.key_command(key, "XINFO", "CONSUMERS", key, group)]
    except Exception as exc:
        raise translate(exc, "describe the stream", r) from exc
    for k in ("first-entry", "last-entry"):
        e = stream.get(k)
        if isinstance(e, list) and len(e) == 2 and isinstance(e[1], list):
            stream[k] = {"id": e[0], "fields": {str(e[1][i]): e[1][i + 1] for i in range(0, len(e[1]) - 1, 2)}}
    return StreamInfo(key=key, stream=stream, groups=groups, consumers=consumers)


class PendingEntry(BaseModel):
    id: str
    consumer: str
    idle_ms: int
    deliveries: int


class PendingReport(BaseModel):
    key: str
    group: str
    total_pending: int
    lowest_id: str | None
    highest_id: str | None
    per_consumer: dict[str, int]
    entries: list[PendingEntry]
    count: int
    truncated: bool
    next_cursor: str | None = Field(description="Pass as `start` for the next page")


async def redis_stream_pending(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1, description="Consumer group")],
    consumer: Annotated[str | None, Field(description="Only this consumer's entries")] = None,
    start: Annotated[str, Field(description="First id ('(' prefix = exclusive); '-' = oldest")] = "-",
    end: Annotated[str, Field(description="Last id; '+' = newest")] = "+",
    min_idle_ms: Annotated[int | None, Field(ge=0, description="Only entries idle at least this long")] = None,
    limit: Limit = None,
) -> PendingReport:
    """Pending (delivered, unacknowledged) entries of a consumer group: summary plus a page of entries."""
    r = state(ctx)
    page = page_size(r, limit)
    try:
        summary = await r.key_command(key, "XPENDING", key, group)
        args: list[Any] = ["XPENDING", key, group]
        if min_idle_ms is not None:
            args += ["IDLE", min_idle_ms]
        args += [start, end, page + 1]
        if consumer:
            args.append(consumer)
        rows = await r.key_command(key, *args)
    except Exception as exc:
        raise translate(exc, "read pending entries", r) from exc
    total, lo, hi, per = summary[0], summary[1], summary[2], summary[3] or []
    entries = [
        PendingEntry(id=text(x[0]), consumer=text(x[1]), idle_ms=int(x[2]), deliveries=int(x[3])) for x in rows[:page]
    ]
    more = len(rows) > page
    return PendingReport(
        key=key,
        group=group,
        total_pending=int(total),
        lowest_id=text(lo) if lo is not None else None,
        highest_id=text(hi) if hi is not None else None,
        per_consumer={text(c): int(n) for c, n in per},
        entries=entries,
        count=len(entries),
        truncated=more,
        next_cursor=f"({entries[-1].id}" if more and entries else None,
    )


# ---------------------------------------------------------------------------------------- writes


async def redis_stream_add(
    ctx: Context[Any, Any],
    key: Key,
    fields: Annotated[dict[str, str], Field(min_length=1, description="Entry fields")],
    id: Annotated[str, Field(description="Entry id; '*' = generated")] = "*",
) -> WriteResult:
    """Append an entry to a stream (XADD); creates the stream."""
    eid, ln = await call(ctx, "append to the stream", lambda c: c.xadd(key, fields, id=id), lambda c: c.xlen(key))
    return WriteResult(key=key, applied=True, changed=1, length=int(ln), id=text(eid))


async def redis_stream_group_create(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1, description="Consumer group name")],
    start_id: Annotated[str, Field(description="Deliver entries after this id: '$' = only new, '0' = all")] = "$",
    mkstream: Annotated[bool, Field(description="Create the stream when missing")] = True,
) -> WriteResult:
    """Create a consumer group on a stream (XGROUP CREATE)."""
    await call(ctx, "create the consumer group", lambda c: c.xgroup_create(key, group, id=start_id, mkstream=mkstream))
    return WriteResult(key=key, applied=True)


async def redis_stream_ack(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1, description="Consumer group")],
    ids: Annotated[list[str], Field(min_length=1, max_length=1000, description="Entry ids to acknowledge")],
) -> WriteResult:
    """Acknowledge processed entries of a consumer group (XACK), removing them from its pending list."""
    n, _ = await call(ctx, "acknowledge entries", lambda c: c.xack(key, group, *ids))
    acked = int(n)
    return WriteResult(key=key, applied=acked > 0, changed=acked)
