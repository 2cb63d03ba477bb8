"""Stream tools: ranges, XINFO, consumer-group pending entries, and the stream writes (XADD, XGROUP
CREATE, XACK)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, truncate_text
from servers._common.paging import offset_page, page_size
from servers._common.tools import DELETE, READ, WRITE, tool
from servers.redis.base import Key, Limit, WriteResult, call, collect_entries, collector, pairs, state_of
from servers.redis.client import text


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


@tool("Redis: read stream entries", READ)
async def redis_stream_range(
    ctx: Context[Any, Any],
    key: Key,
    start: Annotated[str, Field(description="First id (inclusive; '(' prefix = exclusive); '-' = oldest")] = "-",
    end: Annotated[str, Field(description="Last id (inclusive); '+' = newest")] = "+",
    reverse: Annotated[bool, Field(description="Newest first (XREVRANGE)")] = False,
    limit: Limit = None,
) -> StreamPage:
    """Read stream entries between two ids with XRANGE/XREVRANGE, one capped page at a time."""
    r = state_of(ctx)
    page = page_size(r.settings, limit)
    col = collector(page, r.settings.max_bytes)
    try:
        client = await r.client()
        if reverse:
            entries = await client.xrevrange(key, end, start, count=page + 1)
        else:
            entries = await client.xrange(key, start, end, count=page + 1)
    except Exception as exc:
        raise r.translate(exc, "read the stream") from exc
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
    stream: dict[str, Any] = Field(
        description="XINFO STREAM: length, first/last entry (long field values shortened), last id, groups"
    )
    groups: list[dict[str, Any]] = Field(
        description="A page of XINFO GROUPS: name, consumers, pending, last-delivered-id, lag"
    )
    groups_total: int = Field(description="Consumer groups of the stream")
    next_groups_offset: int | None = Field(description="Pass as `groups_offset` for the next page of groups")
    consumers: list[dict[str, Any]] | None = Field(description="A page of XINFO CONSUMERS of `group` (when given)")
    consumers_total: int | None = Field(description="Consumers of `group` (when given)")
    next_consumers_offset: int | None = Field(
        description="Pass as `consumers_offset` (with the same `group`) for the next page of consumers"
    )
    truncated: bool = Field(
        description="True when groups or consumers were left out (see the next_*_offset fields) or a first/last "
        "entry was shortened (read it whole with redis_stream_range start=end=<id>)"
    )
    notes: list[str] = Field(default_factory=list)


def _page(
    rows: list[dict[str, Any]], offset: int, limit: int, max_bytes: int
) -> tuple[list[dict[str, Any]], int | None]:
    """rows[offset:] cut by the item and byte caps; the offset of the next page, if any."""
    kept, _, next_offset = offset_page(rows, offset, limit, max_bytes)
    return kept, next_offset


def _shorten_entry(entry: dict[str, Any], value_cap: int, max_bytes: int) -> tuple[dict[str, Any], bool]:
    """A first/last entry with field values cut to `value_cap` bytes and its fields to `max_bytes` in all."""
    cut = False
    fields: list[tuple[str, Any]] = []
    for name, value in entry["fields"].items():
        name, c1 = truncate_text(str(name), value_cap, keep="head")
        if isinstance(value, str):
            value, c2 = truncate_text(value, value_cap, keep="head")
        elif isinstance(value, dict) and isinstance(value.get("base64"), str):
            b64, c2 = truncate_text(value["base64"], value_cap, keep="head")
            value = {"base64": b64[: len(b64) - len(b64) % 4]}
        else:
            c2 = False
        cut = cut or c1 or c2
        fields.append((name, value))
    kept, c3 = cap_items(fields, max_items=len(fields) or 1, max_bytes=max_bytes)
    return {"id": entry["id"], "fields": dict(kept), "fields_total": len(fields)}, cut or c3


@tool("Redis: stream, groups and consumers", READ)
async def redis_stream_info(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str | None, Field(description="Also list this consumer group's consumers")] = None,
    limit: Limit = None,
    groups_offset: Annotated[int, Field(ge=0, description="`next_groups_offset` of the previous call")] = 0,
    consumers_offset: Annotated[int, Field(ge=0, description="`next_consumers_offset` of the previous call")] = 0,
) -> StreamInfo:
    """Get stream metadata (XINFO STREAM) with pages of its consumer groups and a group's consumers.

    Long field values are shortened; read an entry whole with redis_stream_range start=end=<id>.
    """
    r = state_of(ctx)
    page = page_size(r.settings, limit)
    try:
        stream = pairs(await r.key_command(key, "XINFO", "STREAM", key))
        groups = [pairs(g) for g in await r.key_command(key, "XINFO", "GROUPS", key)]
        consumers = None
        if group:
            consumers = [pairs(c) for c in await r.key_command(key, "XINFO", "CONSUMERS", key, group)]
    except Exception as exc:
        raise r.translate(exc, "describe the stream") from exc
    cap = r.settings.max_bytes
    shortened = False
    for k in ("first-entry", "last-entry"):
        e = stream.get(k)
        if isinstance(e, list) and len(e) == 2 and isinstance(e[1], list):
            entry = {"id": e[0], "fields": {str(e[1][i]): e[1][i + 1] for i in range(0, len(e[1]) - 1, 2)}}
            stream[k], cut = _shorten_entry(entry, max(256, cap // 64), cap // 8)
            shortened = shortened or cut
    group_page, next_groups = _page(groups, groups_offset, page, cap // 4)
    consumer_page, next_consumers = None, None
    if consumers is not None:
        consumer_page, next_consumers = _page(consumers, consumers_offset, page, cap // 4)
    notes = []
    if shortened:
        notes.append("first/last entry shortened: read it whole with redis_stream_range start=end=<id>")
    return StreamInfo(
        key=key,
        stream=stream,
        groups=group_page,
        groups_total=len(groups),
        next_groups_offset=next_groups,
        consumers=consumer_page,
        consumers_total=len(consumers) if consumers is not None else None,
        next_consumers_offset=next_consumers,
        truncated=shortened or next_groups is not None or next_consumers is not None,
        notes=notes,
    )


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


@tool("Redis: pending stream entries", READ)
async def redis_stream_pending(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1)],
    consumer: Annotated[str | None, Field(description="Only this consumer's entries")] = None,
    start: Annotated[str, Field(description="First id ('(' prefix = exclusive); '-' = oldest")] = "-",
    end: Annotated[str, Field(description="Last id; '+' = newest")] = "+",
    min_idle_ms: Annotated[int | None, Field(ge=0, description="Only entries idle at least this long")] = None,
    limit: Limit = None,
) -> PendingReport:
    """List a consumer group's pending (delivered, unacknowledged) entries: summary plus a page."""
    r = state_of(ctx)
    page = page_size(r.settings, limit)
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
        raise r.translate(exc, "read pending entries") from exc
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


@tool("Redis: append a stream entry", WRITE)
async def redis_stream_add(
    ctx: Context[Any, Any],
    key: Key,
    fields: Annotated[dict[str, str], Field(min_length=1, description="Entry fields")],
    id: Annotated[str, Field(description="Entry id; '*' = generated")] = "*",
) -> WriteResult:
    """Append an entry to a stream (XADD); creates the stream."""
    eid, ln = await call(ctx, "append to the stream", lambda c: c.xadd(key, fields, id=id), lambda c: c.xlen(key))
    return WriteResult(key=key, applied=True, changed=1, length=int(ln), id=text(eid))


@tool("Redis: create a consumer group", WRITE)
async def redis_stream_group_create(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1)],
    start_id: Annotated[str, Field(description="Deliver entries after this id: '$' = only new, '0' = all")] = "$",
    mkstream: Annotated[bool, Field(description="Create the stream when missing")] = True,
) -> WriteResult:
    """Create a consumer group on a stream (XGROUP CREATE)."""
    await call(ctx, "create the consumer group", lambda c: c.xgroup_create(key, group, id=start_id, mkstream=mkstream))
    return WriteResult(key=key, applied=True)


@tool("Redis: acknowledge stream entries", DELETE)
async def redis_stream_ack(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1)],
    ids: Annotated[list[str], Field(min_length=1, max_length=1000)],
) -> WriteResult:
    """Acknowledge processed entries of a consumer group (XACK), removing them from its pending list."""
    n, _ = await call(ctx, "acknowledge entries", lambda c: c.xack(key, group, *ids))
    acked = int(n)
    return WriteResult(key=key, applied=acked > 0, changed=acked)
