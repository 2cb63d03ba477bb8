"""Redis tools: SCAN-based key browsing, typed value reads with caps and cursors, streams, bounded
pub/sub, diagnostics (INFO, SLOWLOG, LATENCY, clients, memory, sampled key report), guarded writes and a
raw-command tool classified by Redis's own command metadata.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import (
    DESTRUCTIVE,
    READ,
    WRITE,
    WRITE_IDEMPOTENT,
    ToolSpec,
    json_size,
    lifespan_state,
    redact,
    tool_error,
)
from servers._common.tools import ADMIN
from servers.redis.client import CLASS_RANK, CommandClass, Redis, plain, text, translate, value_json

KEY = "redis"

Key = Annotated[str, Field(min_length=1, description="Key name (exact, not a pattern)")]
Cursor = Annotated[
    str | None, Field(description="`next_cursor` of the previous page; omit to start from the beginning")
]
Limit = Annotated[int | None, Field(ge=1, description="Items per page (default 100, capped by the server)")]
Node = Annotated[
    str | None,
    Field(description="Cluster mode only: the node host:port to ask (default: the first primary)"),
]
RedisType = Literal["string", "hash", "list", "set", "zset", "stream", "ReJSON-RL"]


def _r(ctx: Context[Any, Any]) -> Redis:
    r: Redis = lifespan_state(ctx, KEY)
    return r


def _limit(r: Redis, limit: int | None) -> int:
    return min(limit or r.settings.max_items, r.settings.max_items_limit)


def _bad_cursor(cursor: str, what: str) -> Exception:
    return tool_error(
        f"read {what}", f"invalid cursor {cursor!r}", hint="pass back `next_cursor` unchanged, or omit it to start over"
    )


def _parse_scan_cursor(cursor: str | None, what: str, *, with_node: bool = False) -> tuple[int, int, int]:
    """`node:scan:skip` (node only with_node) -> (node, scan cursor, items to skip in that batch)."""
    if not cursor:
        return 0, 0, 0
    parts = cursor.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise _bad_cursor(cursor, what) from None
    if with_node and len(nums) == 3:
        return nums[0], nums[1], nums[2]
    if not with_node and len(nums) == 2:
        return 0, nums[0], nums[1]
    raise _bad_cursor(cursor, what)


class _Collector:
    """Keeps items while the item and byte caps hold; records where it stopped."""

    def __init__(self, limit: int, max_bytes: int) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.items: list[Any] = []
        self.used = 0
        self.byte_cut = False

    def full(self) -> bool:
        return len(self.items) >= self.limit or self.byte_cut

    def add(self, item: Any) -> bool:
        if len(self.items) >= self.limit:
            return False
        size = json_size(item) + 1
        if self.items and self.used + size > self.max_bytes:
            self.byte_cut = True
            return False
        self.used += size
        self.items.append(item)
        return True


async def _scan_pages(
    fetch: Callable[[int], Awaitable[tuple[int, list[Any]]]],
    convert: Callable[[Any], Any],
    col: _Collector,
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


# ----------------------------------------------------------------------------------------- keys


class KeyItem(BaseModel):
    key: Any = Field(description="Key name (text, or {base64} for binary names)")
    type: str | None = Field(default=None, description="Redis type (with_types=true)")
    ttl_ms: int | None = Field(default=None, description="Milliseconds to expiry; -1 no expiry (with_types=true)")


class KeyPage(BaseModel):
    keys: list[KeyItem]
    count: int
    truncated: bool = Field(description="True when the scan is not finished: call again with next_cursor")
    next_cursor: str | None
    scanned_nodes: int = Field(description="Nodes scanned (1 unless cluster)")
    notes: list[str] = Field(default_factory=list)


async def redis_keys_scan(
    ctx: Context[Any, Any],
    pattern: Annotated[str, Field(description="Glob pattern for SCAN MATCH, e.g. 'user:*' (default all)")] = "*",
    type: Annotated[RedisType | None, Field(description="Only keys of this type (SCAN TYPE)")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
    with_types: Annotated[bool, Field(description="Also return each key's type and TTL (one pipeline)")] = True,
) -> KeyPage:
    """List keys matching a pattern with SCAN (never KEYS), one bounded page at a time.

    The scan runs in small steps so it never blocks the server; in a cluster it walks every primary.
    A page can hold fewer keys than `limit` while the scan is not finished: keep calling with
    `next_cursor` until it is null.
    """
    r = _r(ctx)
    page = _limit(r, limit)
    node_i, scan_cur, skip = _parse_scan_cursor(cursor, "keys", with_node=True)
    col = _Collector(page, r.settings.max_bytes)
    deadline = time.monotonic() + min(2.0, r.settings.command_timeout_s)
    next_cursor: str | None = None
    try:
        nodes = await r.nodes()
        if node_i >= len(nodes):
            raise _bad_cursor(cursor or "", "keys")
        scanned = 0
        while node_i < len(nodes):
            node = nodes[node_i]
            scanned += 1

            async def fetch(cur: int, node: Any = node) -> tuple[int, list[Any]]:
                args: list[Any] = ["SCAN", cur, "MATCH", pattern, "COUNT", r.settings.scan_count]
                if type:
                    args += ["TYPE", type]
                reply = await r.node_command(node, *args)
                return int(reply[0]), list(reply[1])

            resume, skip_at, _ = await _scan_pages(fetch, lambda k: k, col, scan_cur, skip, deadline=deadline)
            skip = 0
            if resume is not None:
                next_cursor = f"{node_i}:{resume}:{skip_at}"
                break
            node_i += 1
            scan_cur = 0
            if col.full() or time.monotonic() > deadline:
                if node_i < len(nodes):
                    next_cursor = f"{node_i}:0:0"
                break
        raw_keys: list[bytes] = col.items
        items = [KeyItem(key=value_json(k)) for k in raw_keys]
        if with_types and raw_keys:
            client = await r.client()
            pipe = client.pipeline(transaction=False)
            for k in raw_keys:
                pipe.type(k)
                pipe.pttl(k)
            res = await pipe.execute()
            for i, item in enumerate(items):
                item.type = text(res[2 * i])
                item.ttl_ms = int(res[2 * i + 1])
    except Exception as exc:
        raise translate(exc, "scan keys", r) from exc
    notes = []
    if next_cursor and len(items) < page:
        notes.append("scan step budget reached before the page filled; continue with next_cursor")
    return KeyPage(
        keys=items,
        count=len(items),
        truncated=next_cursor is not None,
        next_cursor=next_cursor,
        scanned_nodes=scanned,
        notes=notes,
    )


class KeyInfo(BaseModel):
    key: str
    exists: bool
    type: str = Field(description="string, hash, list, set, zset, stream, ReJSON-RL, ... or none")
    ttl_ms: int | None = Field(description="Milliseconds to expiry; -1 no expiry; null when missing")
    memory_bytes: int | None = Field(description="MEMORY USAGE (sampled for big aggregates)")
    encoding: str | None = Field(description="OBJECT ENCODING, e.g. listpack, hashtable, intset, embstr")
    length: int | None = Field(description="Bytes for strings, elements for aggregates, entries for streams")
    idle_seconds: int | None = Field(default=None, description="OBJECT IDLETIME (LRU policies only)")
    lfu_frequency: int | None = Field(default=None, description="OBJECT FREQ (LFU policies only)")


_LENGTH_CMD = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}


async def _optional(coro: Awaitable[Any]) -> Any:
    from redis.exceptions import ResponseError

    try:
        return await coro
    except ResponseError:
        return None


async def redis_key_info(ctx: Context[Any, Any], key: Key) -> KeyInfo:
    """Type, TTL, memory usage, internal encoding and length of one key (cheap: O(1) commands)."""
    r = _r(ctx)
    try:
        client = await r.client()
        typ = text(await client.type(key))
        if typ == "none":
            return KeyInfo(
                key=key, exists=False, type="none", ttl_ms=None, memory_bytes=None, encoding=None, length=None
            )
        ttl = int(await client.pttl(key))
        mem = await _optional(client.execute_command("MEMORY", "USAGE", key))
        enc = await _optional(client.execute_command("OBJECT", "ENCODING", key))
        length = None
        if typ in _LENGTH_CMD:
            length = int(await client.execute_command(_LENGTH_CMD[typ], key))
        idle = await _optional(client.execute_command("OBJECT", "IDLETIME", key))
        freq = await _optional(client.execute_command("OBJECT", "FREQ", key))
    except Exception as exc:
        raise translate(exc, "inspect the key", r) from exc
    return KeyInfo(
        key=key,
        exists=True,
        type=typ,
        ttl_ms=ttl,
        memory_bytes=int(mem) if mem is not None else None,
        encoding=text(enc) if enc is not None else None,
        length=int(length) if isinstance(length, int) else None,
        idle_seconds=int(idle) if idle is not None else None,
        lfu_frequency=int(freq) if freq is not None else None,
    )


class KeyValue(BaseModel):
    key: str
    type: str
    exists: bool
    length: int | None = Field(description="Total bytes (string) or elements/entries (aggregates)")
    value: Any = Field(default=None, description="string: this chunk (text or {base64}); JSON: the document")
    items: list[dict[str, Any]] = Field(
        default_factory=list,
        description="hash: {field,value}; list: {index,value}; set: {member}; zset: {member,score}; "
        "stream: {id,fields}",
    )
    count: int = Field(description="Items (or string bytes) in this page")
    truncated: bool = Field(description="True when more data exists: call again with next_cursor")
    next_cursor: str | None = None
    notes: list[str] = Field(default_factory=list)


def _utf8_chunk(raw: bytes) -> tuple[Any, int]:
    """A chunk as text when it is UTF-8 (dropping a split trailing character), else base64; bytes used."""
    for cut in range(0, 4):
        part = raw[: len(raw) - cut] if cut else raw
        try:
            return part.decode("utf-8"), len(part)
        except UnicodeDecodeError:
            continue
    return value_json(raw), len(raw)


async def redis_key_get(
    ctx: Context[Any, Any],
    key: Key,
    cursor: Cursor = None,
    limit: Limit = None,
    max_bytes: Annotated[
        int | None, Field(ge=64, description="Byte cap of this page (default and ceiling: server setting)")
    ] = None,
    json_path: Annotated[str, Field(description="JSONPath for RedisJSON documents")] = "$",
) -> KeyValue:
    """Read a key's value by its type, one capped page at a time.

    string: a byte range (cursor = byte offset); hash/set: HSCAN/SSCAN; list and sorted set: by index
    range; stream: XRANGE by id; RedisJSON (when the module is loaded): JSON.GET. `truncated` says more
    data exists; pass `next_cursor` back to continue.
    """
    r = _r(ctx)
    cap = min(max_bytes or r.settings.max_bytes, r.settings.max_bytes)
    page = _limit(r, limit)
    col = _Collector(page, cap)
    notes: list[str] = []
    try:
        client = await r.client()
        offset = 0
        if cursor and cursor.isdigit():
            offset = int(cursor)
        # one round trip for the common case (a string): TYPE, STRLEN and the first chunk together
        pipe = client.pipeline(transaction=False)
        pipe.type(key)
        pipe.strlen(key)
        pipe.getrange(key, offset, offset + cap - 1)
        first = await pipe.execute(raise_on_error=False)
        if isinstance(first[0], Exception):
            raise first[0]
        typ = text(first[0])
        if typ == "none":
            return KeyValue(key=key, type="none", exists=False, length=None, count=0, truncated=False)
        if typ == "string":
            if cursor and not cursor.isdigit():
                raise _bad_cursor(cursor, "the string")
            total = int(first[1])
            raw = bytes(first[2]) if offset < total else b""
            val, used = _utf8_chunk(raw)
            end = offset + used
            more = end < total
            if more:
                notes.append(f"string is {total} bytes; this page holds bytes {offset}..{end - 1}")
            return KeyValue(
                key=key,
                type=typ,
                exists=True,
                length=total,
                value=val,
                count=used,
                truncated=more,
                next_cursor=str(end) if more else None,
                notes=notes,
            )
        length = int(await client.execute_command(_LENGTH_CMD[typ], key)) if typ in _LENGTH_CMD else None
        next_cursor: str | None = None
        if typ in ("hash", "set"):
            _, scan_cur, skip = _parse_scan_cursor(cursor, typ)
            cmd = "HSCAN" if typ == "hash" else "SSCAN"

            async def fetch(cur: int) -> tuple[int, list[Any]]:
                reply = await r.key_command(key, cmd, key, cur, "COUNT", r.settings.scan_count)
                flat = list(reply[1])
                if typ == "hash":
                    return int(reply[0]), [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
                return int(reply[0]), flat

            def conv(x: Any) -> dict[str, Any]:
                if typ == "hash":
                    return {"field": value_json(x[0]), "value": value_json(x[1])}
                return {"member": value_json(x)}

            resume, skip_at, _ = await _scan_pages(fetch, conv, col, scan_cur, skip)
            next_cursor = f"{resume}:{skip_at}" if resume is not None else None
        elif typ in ("list", "zset"):
            try:
                start = int(cursor or 0)
            except ValueError:
                raise _bad_cursor(cursor or "", typ) from None
            if typ == "list":
                vals = await client.lrange(key, start, start + page - 1)
                for i, v in enumerate(vals):
                    if not col.add({"index": start + i, "value": value_json(v)}):
                        break
            else:
                vals = await client.zrange(key, start, start + page - 1, withscores=True)
                for m, s in vals:
                    if not col.add({"member": value_json(m), "score": s}):
                        break
            end = start + len(col.items)
            next_cursor = str(end) if length is not None and end < length else None
        elif typ == "stream":
            start_id = cursor or "-"
            entries = await client.xrange(key, start_id, "+", count=page + 1)
            last = None
            for eid, fields in entries:
                if not col.add({"id": text(eid), "fields": {text(k): value_json(v) for k, v in fields.items()}}):
                    break
                last = text(eid)
            more = len(col.items) < len(entries)
            next_cursor = f"({last}" if more and last else None
        elif typ == "ReJSON-RL":
            doc = await client.execute_command("JSON.GET", key, json_path)
            doc_text = text(doc) if doc is not None else "null"
            import orjson

            parsed = orjson.loads(doc_text)
            if json_size(parsed) > cap:
                notes.append(f"document larger than {cap} bytes; read a narrower `json_path`")
                return KeyValue(
                    key=key,
                    type=typ,
                    exists=True,
                    length=None,
                    value=doc_text[:cap],
                    count=cap,
                    truncated=True,
                    next_cursor=None,
                    notes=notes,
                )
            return KeyValue(key=key, type=typ, exists=True, length=None, value=parsed, count=1, truncated=False)
        else:
            raise tool_error(
                "read the key",
                f"type {typ!r} has no reader here",
                hint="use redis_command with the type's own read commands",
            )
    except Exception as exc:
        raise translate(exc, "read the key", r) from exc
    if col.byte_cut:
        notes.append(f"page cut at the {cap}-byte cap")
    return KeyValue(
        key=key,
        type=typ,
        exists=True,
        length=length,
        items=col.items,
        count=len(col.items),
        truncated=next_cursor is not None,
        next_cursor=next_cursor,
        notes=notes,
    )


# -------------------------------------------------------------------------------------- streams


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
    r = _r(ctx)
    page = _limit(r, limit)
    col = _Collector(page, r.settings.max_bytes)
    try:
        client = await r.client()
        if reverse:
            entries = await client.xrevrange(key, end, start, count=page + 1)
        else:
            entries = await client.xrange(key, start, end, count=page + 1)
    except Exception as exc:
        raise translate(exc, "read the stream", r) from exc
    for eid, fields in entries:
        if not col.add({"id": text(eid), "fields": {text(k): value_json(v) for k, v in fields.items()}}):
            break
    more = len(col.items) < len(entries)
    last = col.items[-1]["id"] if col.items else None
    return StreamPage(
        key=key,
        entries=[StreamEntry(**e) for e in col.items],
        count=len(col.items),
        truncated=more,
        next_cursor=f"({last}" if more and last else None,
    )


class StreamInfo(BaseModel):
    key: str
    stream: dict[str, Any] = Field(description="XINFO STREAM: length, first/last entry, last id, groups")
    groups: list[dict[str, Any]] = Field(description="XINFO GROUPS: name, consumers, pending, last-delivered-id, lag")
    consumers: list[dict[str, Any]] | None = Field(description="XINFO CONSUMERS of `group` (when given)")


def _pairs(reply: Any) -> dict[str, Any]:
    if isinstance(reply, dict):
        return {text(k): plain(v) for k, v in reply.items()}
    flat = list(reply or [])
    return {text(flat[i]): plain(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


async def redis_stream_info(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str | None, Field(description="Also list this consumer group's consumers")] = None,
) -> StreamInfo:
    """Stream metadata (XINFO STREAM), its consumer groups (XINFO GROUPS) and a group's consumers."""
    r = _r(ctx)
    try:
        stream = _pairs(await r.key_command(key, "XINFO", "STREAM", key))
        groups = [_pairs(g) for g in await r.key_command(key, "XINFO", "GROUPS", key)]
        consumers = None
        if group:
            consumers = [_pairs(c) for c in await r.key_command(key, "XINFO", "CONSUMERS", key, group)]
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
    r = _r(ctx)
    page = _limit(r, limit)
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


# --------------------------------------------------------------------------------------- pub/sub


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


async def redis_subscribe(
    ctx: Context[Any, Any],
    channels: Annotated[list[str] | None, Field(description="Channels to SUBSCRIBE to")] = None,
    patterns: Annotated[list[str] | None, Field(description="Glob patterns to PSUBSCRIBE to")] = None,
    max_messages: Annotated[int, Field(ge=1, le=1000, description="Return after this many messages")] = 10,
    timeout_s: Annotated[float, Field(gt=0, description="Return after this many seconds (capped by the server)")] = 5.0,
) -> SubscribeResult:
    """Listen on channels/patterns and return what arrives: at most `max_messages` or `timeout_s` seconds.

    Only messages published while listening are seen (Redis pub/sub keeps no history; use streams for
    that). The subscription is closed before returning.
    """
    r = _r(ctx)
    if not channels and not patterns:
        raise tool_error("subscribe", "give at least one channel or pattern", hint="e.g. channels=['events']")
    wait = min(timeout_s, r.settings.subscribe_max_seconds)
    col = _Collector(max_messages, r.settings.max_bytes)
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
        raise translate(exc, "subscribe", r) from exc
    return SubscribeResult(
        messages=[Message(**m) for m in col.items],
        count=len(col.items),
        waited_s=round(time.monotonic() - t0, 3),
        stopped_by=stopped,
        truncated=stopped != "timeout",
    )


# ----------------------------------------------------------------------------------- diagnostics


def parse_info(raw: str) -> dict[str, dict[str, Any]]:
    """INFO text as {section: {field: value}}; numbers as numbers, keyspace lines as objects."""
    out: dict[str, dict[str, Any]] = {}
    section = "default"
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            section = line[1:].strip().lower()
            out.setdefault(section, {})
            continue
        k, sep, v = line.partition(":")
        if not sep:
            continue
        out.setdefault(section, {})[k] = _info_value(v)
    return out


def _info_value(v: str) -> Any:
    if ("=" in v and "," in v) or (v.count("=") == 1 and not v.startswith("=")):
        parts = dict(p.split("=", 1) for p in v.split(",") if "=" in p)
        if parts:
            return {k: _info_value(x) for k, x in parts.items()}
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
        return f if f == f else v
    except ValueError:
        return v


class InfoSummary(BaseModel):
    version: str | None
    mode: str | None
    role: str | None
    uptime_s: int | None
    connected_clients: int | None
    used_memory_bytes: int | None
    used_memory_human: str | None
    maxmemory_bytes: int | None
    maxmemory_policy: str | None
    memory_fragmentation_ratio: float | None
    keyspace_hits: int | None
    keyspace_misses: int | None
    hit_ratio: float | None = Field(description="hits / (hits + misses); null before any lookup")
    evicted_keys: int | None
    expired_keys: int | None
    ops_per_sec: int | None
    total_keys: int = Field(description="Sum of keys over the keyspace section")
    keys_with_expiry: int


class InfoResult(BaseModel):
    node: str | None
    summary: InfoSummary
    sections: dict[str, dict[str, Any]]


def _g(sections: dict[str, dict[str, Any]], sec: str, key: str) -> Any:
    return sections.get(sec, {}).get(key)


def _summary(s: dict[str, dict[str, Any]]) -> InfoSummary:
    hits, misses = _g(s, "stats", "keyspace_hits"), _g(s, "stats", "keyspace_misses")
    ratio = None
    if isinstance(hits, int) and isinstance(misses, int) and hits + misses:
        ratio = round(hits / (hits + misses), 4)
    total = expires = 0
    for v in s.get("keyspace", {}).values():
        if isinstance(v, dict):
            total += int(v.get("keys", 0))
            expires += int(v.get("expires", 0))
    frag = _g(s, "memory", "mem_fragmentation_ratio")
    return InfoSummary(
        version=str(_g(s, "server", "redis_version")) if _g(s, "server", "redis_version") is not None else None,
        mode=_g(s, "server", "redis_mode"),
        role=_g(s, "replication", "role"),
        uptime_s=_g(s, "server", "uptime_in_seconds"),
        connected_clients=_g(s, "clients", "connected_clients"),
        used_memory_bytes=_g(s, "memory", "used_memory"),
        used_memory_human=_g(s, "memory", "used_memory_human"),
        maxmemory_bytes=_g(s, "memory", "maxmemory"),
        maxmemory_policy=_g(s, "memory", "maxmemory_policy"),
        memory_fragmentation_ratio=float(frag) if isinstance(frag, int | float) else None,
        keyspace_hits=hits,
        keyspace_misses=misses,
        hit_ratio=ratio,
        evicted_keys=_g(s, "stats", "evicted_keys"),
        expired_keys=_g(s, "stats", "expired_keys"),
        ops_per_sec=_g(s, "stats", "instantaneous_ops_per_sec"),
        total_keys=total,
        keys_with_expiry=expires,
    )


_SUMMARY_SECTIONS = ("server", "clients", "memory", "stats", "replication", "keyspace")


async def redis_info(
    ctx: Context[Any, Any],
    sections: Annotated[
        list[str] | None,
        Field(
            description="INFO sections to return in full (server, clients, memory, persistence, stats, "
            "replication, cpu, commandstats, latencystats, errorstats, keyspace, cluster, modules, "
            "everything); default: none, only the summary"
        ),
    ] = None,
    node: Node = None,
) -> InfoResult:
    """Server INFO as structured data plus a summary: memory, hit ratio, evictions, expirations, keys.

    The summary is what cache design needs first: keyspace_hits/misses -> hit_ratio, evicted_keys with
    maxmemory and maxmemory_policy, and expired keys.
    """
    r = _r(ctx)
    want = [s.lower() for s in sections or []]
    try:
        n = await r.pick_node(node)
        raw_summary = await r.node_command(n, "INFO", *_SUMMARY_SECTIONS)
        summ = parse_info(text(raw_summary))
        full: dict[str, dict[str, Any]] = {}
        if want:
            full = parse_info(text(await r.node_command(n, "INFO", *want)))
    except Exception as exc:
        raise translate(exc, "read INFO", r) from exc
    return InfoResult(node=n.name if n is not None else None, summary=_summary(summ), sections=redact(full))


class SlowlogEntry(BaseModel):
    id: int
    started_at: int = Field(description="Unix time the command started")
    duration_us: int
    command: list[str] = Field(description="Command and arguments as logged (Redis shortens long ones)")
    client_address: str | None
    client_name: str | None


class SlowlogResult(BaseModel):
    node: str | None
    entries: list[SlowlogEntry]
    count: int
    total_logged: int = Field(description="SLOWLOG LEN")
    truncated: bool


async def redis_slowlog(
    ctx: Context[Any, Any],
    limit: Annotated[int, Field(ge=1, le=128, description="Most recent entries to return")] = 25,
    node: Node = None,
) -> SlowlogResult:
    """Recent slow commands (SLOWLOG GET): what ran, how long, from which client. Newest first."""
    r = _r(ctx)
    try:
        n = await r.pick_node(node)
        rows = await r.node_command(n, "SLOWLOG", "GET", limit)
        total = int(await r.node_command(n, "SLOWLOG", "LEN"))
    except Exception as exc:
        raise translate(exc, "read the slowlog", r) from exc
    entries = []
    for row in rows:
        args = [text(a) for a in row[3]]
        entries.append(
            SlowlogEntry(
                id=int(row[0]),
                started_at=int(row[1]),
                duration_us=int(row[2]),
                command=redact(args),
                client_address=text(row[4]) if len(row) > 4 else None,
                client_name=text(row[5]) if len(row) > 5 else None,
            )
        )
    return SlowlogResult(
        node=n.name if n is not None else None,
        entries=entries,
        count=len(entries),
        total_logged=total,
        truncated=total > len(entries),
    )


class LatencyEvent(BaseModel):
    event: str
    latest_at: int
    latest_ms: int
    max_ms: int


class LatencyResult(BaseModel):
    node: str | None
    latest: list[LatencyEvent] = Field(description="LATENCY LATEST: one row per event class")
    history: list[dict[str, int]] | None = Field(description="LATENCY HISTORY of `event` (time, latency_ms)")
    doctor: str = Field(description="LATENCY DOCTOR's human-readable analysis")
    notes: list[str] = Field(default_factory=list)


async def redis_latency(
    ctx: Context[Any, Any],
    event: Annotated[str | None, Field(description="Event name for LATENCY HISTORY, e.g. 'command'")] = None,
    node: Node = None,
) -> LatencyResult:
    """Latency monitor figures: latest spikes per event, an event's history and LATENCY DOCTOR advice."""
    r = _r(ctx)
    try:
        n = await r.pick_node(node)
        latest = await r.node_command(n, "LATENCY", "LATEST")
        hist = await r.node_command(n, "LATENCY", "HISTORY", event) if event else None
        doctor = text(await r.node_command(n, "LATENCY", "DOCTOR"))
    except Exception as exc:
        raise translate(exc, "read latency data", r) from exc
    notes = []
    if not latest:
        notes.append(
            "no latency events recorded: the monitor may be off (latency-monitor-threshold 0) or nothing exceeded it"
        )
    return LatencyResult(
        node=n.name if n is not None else None,
        latest=[
            LatencyEvent(event=text(x[0]), latest_at=int(x[1]), latest_ms=int(x[2]), max_ms=int(x[3])) for x in latest
        ],
        history=[{"time": int(t), "latency_ms": int(ms)} for t, ms in hist] if hist is not None else None,
        doctor=doctor[: r.settings.max_bytes],
        notes=notes,
    )


class ClientsResult(BaseModel):
    node: str | None
    clients: list[dict[str, Any]] = Field(description="CLIENT LIST fields: id, addr, name, age, idle, db, cmd, ...")
    count: int
    total: int
    truncated: bool
    next_offset: int | None


def _parse_client_line(line: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in line.split(" "):
        k, sep, v = part.partition("=")
        if sep:
            out[k] = int(v) if v.lstrip("-").isdigit() else v
    return out


async def redis_clients_list(
    ctx: Context[Any, Any],
    type: Annotated[
        Literal["normal", "master", "replica", "pubsub"] | None, Field(description="Only clients of this type")
    ] = None,
    limit: Limit = None,
    offset: Annotated[int, Field(ge=0, description="`next_offset` of the previous page")] = 0,
    node: Node = None,
) -> ClientsResult:
    """Connected clients (CLIENT LIST): address, name, age, idle time, db, last command, buffers."""
    r = _r(ctx)
    page = _limit(r, limit)
    try:
        n = await r.pick_node(node)
        args: list[Any] = ["CLIENT", "LIST"] + (["TYPE", type] if type else [])
        raw = text(await r.node_command(n, *args))
    except Exception as exc:
        raise translate(exc, "list clients", r) from exc
    rows = [_parse_client_line(x) for x in raw.splitlines() if x.strip()]
    col = _Collector(page, r.settings.max_bytes)
    for row in rows[offset:]:
        if not col.add(row):
            break
    end = offset + len(col.items)
    more = end < len(rows)
    return ClientsResult(
        node=n.name if n is not None else None,
        clients=col.items,
        count=len(col.items),
        total=len(rows),
        truncated=more,
        next_offset=end if more else None,
    )


class MemoryReport(BaseModel):
    node: str | None
    doctor: str = Field(description="MEMORY DOCTOR's analysis")
    stats: dict[str, Any] = Field(description="MEMORY STATS: allocator, overhead, dataset, per-db figures")


async def redis_memory_doctor(ctx: Context[Any, Any], node: Node = None) -> MemoryReport:
    """Memory diagnosis: MEMORY DOCTOR advice plus MEMORY STATS (overhead, dataset, fragmentation)."""
    r = _r(ctx)
    try:
        n = await r.pick_node(node)
        doctor = text(await r.node_command(n, "MEMORY", "DOCTOR"))
        stats = _pairs(await r.node_command(n, "MEMORY", "STATS"))
    except Exception as exc:
        raise translate(exc, "diagnose memory", r) from exc
    return MemoryReport(node=n.name if n is not None else None, doctor=doctor[: r.settings.max_bytes], stats=stats)


class BigKey(BaseModel):
    key: Any
    type: str
    memory_bytes: int
    length: int | None = Field(description="Bytes (string) or elements")
    ttl_ms: int


class PrefixStat(BaseModel):
    prefix: str
    keys: int
    memory_bytes: int
    avg_bytes: int
    with_ttl: int = Field(description="Sampled keys of the prefix that have an expiry")
    types: dict[str, int]


class KeyReport(BaseModel):
    sampled_keys: int
    total_keys: int | None = Field(description="DBSIZE (sum over primaries in a cluster)")
    scan_complete: bool = Field(description="True when every matching key was visited")
    elapsed_s: float
    by_type: dict[str, dict[str, int]] = Field(description="type -> {keys, memory_bytes}")
    biggest_keys: list[BigKey]
    prefixes: list[PrefixStat] = Field(description="Key prefixes by sampled memory, largest first")
    keys_without_ttl: int
    next_cursor: str | None = Field(description="Continue sampling where this call stopped (a fresh tally)")
    truncated: bool
    advice: list[str]


async def redis_keyspace_report(
    ctx: Context[Any, Any],
    pattern: Annotated[str, Field(description="Only keys matching this glob")] = "*",
    max_keys: Annotated[int | None, Field(ge=1, description="Keys to sample at most (capped by the server)")] = None,
    max_seconds: Annotated[float | None, Field(gt=0, description="Time budget (capped by the server)")] = None,
    top: Annotated[int, Field(ge=1, le=200, description="Biggest keys and prefixes to list")] = 20,
    delimiter: Annotated[str, Field(min_length=1, max_length=4, description="Prefix separator")] = ":",
    prefix_depth: Annotated[int, Field(ge=1, le=5, description="Delimiter-separated parts that form a prefix")] = 1,
    cursor: Cursor = None,
) -> KeyReport:
    """Sampled big-key and key-prefix report for cache design, built with SCAN under a key and time budget.

    Never blocks the server: small SCAN steps, MEMORY USAGE with sampling, one pipeline per step. Shows
    memory by type and prefix, the biggest keys, and how many keys lack a TTL, with advice.
    """
    r = _r(ctx)
    budget_keys = min(max_keys or r.settings.report_max_keys, r.settings.report_max_keys)
    budget_s = min(max_seconds or r.settings.report_max_seconds, r.settings.report_max_seconds)
    node_i, scan_cur, _ = _parse_scan_cursor(cursor, "the key report", with_node=True)
    t0 = time.monotonic()
    by_type: dict[str, dict[str, int]] = {}
    prefixes: dict[str, dict[str, Any]] = {}
    big: list[BigKey] = []
    sampled = no_ttl = 0
    next_cursor: str | None = None
    total_keys: int | None = 0
    try:
        client = await r.client()
        nodes = await r.nodes()
        for nd in nodes:
            total_keys = (total_keys or 0) + int(await r.node_command(nd, "DBSIZE"))
        while node_i < len(nodes):
            nd = nodes[node_i]
            reply = await r.node_command(
                nd,
                "SCAN",
                scan_cur,
                "MATCH",
                pattern,
                "COUNT",
                max(1, min(r.settings.scan_count, 200, budget_keys - sampled)),
            )
            scan_cur = int(reply[0])
            keys = list(reply[1])
            if keys:
                pipe = client.pipeline(transaction=False)
                for k in keys:
                    pipe.type(k)
                    pipe.execute_command("MEMORY", "USAGE", k)
                    pipe.pttl(k)
                res = await pipe.execute(raise_on_error=False)
                types = [text(res[3 * i]) for i in range(len(keys))]
                pipe = client.pipeline(transaction=False)
                for k, t in zip(keys, types, strict=True):
                    pipe.execute_command(_LENGTH_CMD.get(t, "EXISTS"), k)
                lens = await pipe.execute(raise_on_error=False)
                for i, k in enumerate(keys):
                    t = types[i]
                    if t == "none":
                        continue
                    mem = res[3 * i + 1]
                    mem = int(mem) if isinstance(mem, int) else 0
                    ttl = res[3 * i + 2]
                    ttl = int(ttl) if isinstance(ttl, int) else -1
                    ln = lens[i] if isinstance(lens[i], int) and t in _LENGTH_CMD else None
                    sampled += 1
                    if ttl < 0:
                        no_ttl += 1
                    bt = by_type.setdefault(t, {"keys": 0, "memory_bytes": 0})
                    bt["keys"] += 1
                    bt["memory_bytes"] += mem
                    name = text(k)
                    parts = name.split(delimiter)
                    pfx = delimiter.join(parts[:prefix_depth]) + (delimiter + "*" if len(parts) > prefix_depth else "")
                    p = prefixes.setdefault(pfx, {"keys": 0, "memory_bytes": 0, "with_ttl": 0, "types": {}})
                    p["keys"] += 1
                    p["memory_bytes"] += mem
                    p["with_ttl"] += 1 if ttl >= 0 else 0
                    p["types"][t] = p["types"].get(t, 0) + 1
                    big.append(BigKey(key=value_json(k), type=t, memory_bytes=mem, length=ln, ttl_ms=ttl))
                    if len(big) > top * 4:
                        big.sort(key=lambda b: -b.memory_bytes)
                        del big[top:]
            if scan_cur == 0:
                node_i += 1
            if node_i >= len(nodes):
                break
            if sampled >= budget_keys or time.monotonic() - t0 > budget_s:
                next_cursor = f"{node_i}:{scan_cur}:0"
                break
    except Exception as exc:
        raise translate(exc, "build the key report", r) from exc
    big.sort(key=lambda b: -b.memory_bytes)
    big = big[:top]
    pstats = sorted(
        (
            PrefixStat(
                prefix=k,
                keys=v["keys"],
                memory_bytes=v["memory_bytes"],
                avg_bytes=v["memory_bytes"] // max(v["keys"], 1),
                with_ttl=v["with_ttl"],
                types=v["types"],
            )
            for k, v in prefixes.items()
        ),
        key=lambda p: -p.memory_bytes,
    )[:top]
    advice: list[str] = []
    for b in big:
        if b.memory_bytes >= 1_000_000 or ((b.length or 0) >= 100_000 and b.type != "string"):
            advice.append(
                f"big key {b.key!s} ({b.type}, {b.memory_bytes} bytes, length {b.length}): split it or page "
                "through it; deleting it should use UNLINK"
            )
    for ps in pstats:
        if ps.keys >= 10 and ps.with_ttl == 0:
            advice.append(
                f"prefix {ps.prefix}: {ps.keys} sampled keys and none expire; if it is a cache, set TTLs "
                "(with jitter) or rely on an allkeys-* eviction policy"
            )
    if next_cursor:
        advice.append("budget reached before the scan finished: figures are a sample; continue with next_cursor")
    return KeyReport(
        sampled_keys=sampled,
        total_keys=total_keys,
        scan_complete=next_cursor is None,
        elapsed_s=round(time.monotonic() - t0, 3),
        by_type=by_type,
        biggest_keys=big,
        prefixes=pstats,
        keys_without_ttl=no_ttl,
        next_cursor=next_cursor,
        truncated=next_cursor is not None,
        advice=advice[:20],
    )


# ---------------------------------------------------------------------------------- raw command


class CommandResult(BaseModel):
    command: str = Field(description="Command (and subcommand) as classified")
    classification: Literal["read", "write", "admin"]
    flags: list[str] = Field(description="COMMAND INFO flags")
    acl_categories: list[str] = Field(description="COMMAND INFO ACL categories")
    result: Any = Field(description="The reply (bytes as text or {base64}); capped")
    truncated: bool
    notes: list[str] = Field(default_factory=list)


_NEEDS = {
    "write": "writes allowed for redis (--allow-writes redis / BAM_ALLOW_WRITES=redis)",
    "admin": "admin allowed for redis (--allow-admin redis plus --allow-writes redis)",
}


def _cap_reply(value: Any, max_bytes: int, max_items: int) -> tuple[Any, bool]:
    if isinstance(value, list):
        col = _Collector(max_items, max_bytes)
        for v in value:
            if not col.add(v):
                break
        return col.items, len(col.items) < len(value)
    if isinstance(value, dict):
        col = _Collector(max_items, max_bytes)
        for k, v in value.items():
            if not col.add([k, v]):
                break
        return dict(col.items), len(col.items) < len(value)
    if isinstance(value, str) and len(value.encode()) > max_bytes:
        return value.encode()[:max_bytes].decode(errors="ignore"), True
    return value, False


def make_command_tool(allowed: CommandClass) -> Callable[..., Awaitable[CommandResult]]:
    """The raw-command tool, allowing commands up to `allowed` (read < write < admin)."""
    rank = CLASS_RANK[allowed]

    async def redis_command(
        ctx: Context[Any, Any],
        args: Annotated[
            list[str],
            Field(min_length=1, description="Command and arguments, e.g. ['ZRANGE', 'board', '0', '9', 'WITHSCORES']"),
        ],
        node: Node = None,
    ) -> CommandResult:
        r = _r(ctx)
        name = args[0].strip()
        try:
            meta = await r.command_meta(name)
            if meta is not None and meta.reason.startswith("container:") and len(args) > 1:
                meta = await r.command_meta(name, args[1])
        except Exception as exc:
            raise translate(exc, "look up the command", r) from exc
        if meta is None:
            raise tool_error(
                "run the command",
                f"unknown command {' '.join(args[:2])!r} on this server",
                code="ERR",
                hint="check the name (COMMAND DOCS); module commands need the module loaded",
            )
        if meta.cls == "session":
            raise tool_error(
                "run the command",
                f"refused: {meta.name.upper()} changes or blocks the connection state ({meta.reason})",
                code="REFUSED",
                hint="use redis_subscribe for pub/sub, redis_stream_range for streams; transactions, blocking "
                "and connection commands cannot run on the shared connection pool",
            )
        if CLASS_RANK[meta.cls] > rank:
            raise tool_error(
                "run the command",
                f"refused: {meta.name.upper()} is a {meta.cls} command per Redis's command metadata ({meta.reason})",
                code="REFUSED",
                hint=f"this needs {_NEEDS[meta.cls]}",
            )
        notes: list[str] = []
        try:
            client = await r.client()
            target = await r.pick_node(node) if node else None
            if target is not None:
                reply = await client.execute_command(*args, target_nodes=target)
            else:
                try:
                    reply = await client.execute_command(*args)
                except Exception as exc:  # a keyless command in a cluster: run it on one node
                    if "No way to dispatch" not in str(exc):
                        raise
                    target = await r.pick_node(None)
                    reply = await client.execute_command(*args, target_nodes=target)
                    notes.append(f"keyless command ran on node {target.name}; pass `node` to choose another")
        except Exception as exc:
            raise translate(exc, f"run {meta.name.upper()}", r) from exc
        value, cut = _cap_reply(plain(reply), r.settings.max_bytes, r.settings.max_items_limit)
        if cut:
            notes.append("reply cut at the size caps")
        return CommandResult(
            command=meta.name,
            classification=meta.cls,  # type: ignore[arg-type]
            flags=list(meta.flags),
            acl_categories=list(meta.acl_categories),
            result=redact(value) if meta.cls == "admin" else value,
            truncated=cut,
            notes=notes,
        )

    what = {
        "read": "read-only commands only (those Redis flags `readonly` and not @admin/@dangerous)",
        "write": "read and write commands (not @admin/@dangerous ones)",
        "admin": "any command, including @admin/@dangerous ones (CONFIG SET, FLUSHALL, ...)",
    }[allowed]
    redis_command.__doc__ = (
        "Run any other Redis command, classified by Redis's own COMMAND INFO metadata (flags and ACL "
        f"categories). This server allows {what}. Transactions, blocking and subscribe commands are refused."
    )
    return redis_command


# ---------------------------------------------------------------------------------------- writes


class WriteResult(BaseModel):
    key: str
    applied: bool = Field(description="False when a condition (NX/XX, missing key) prevented the change")
    changed: int | None = Field(default=None, description="Elements/fields/keys added, removed or acknowledged")
    length: int | None = Field(default=None, description="Length of the key afterwards, when cheap to know")
    ttl_ms: int | None = Field(default=None, description="TTL afterwards (-1: none)")
    values: list[Any] | None = Field(default=None, description="Popped values / previous value")
    id: str | None = Field(default=None, description="Stream entry id")


TtlMs = Annotated[int | None, Field(ge=1, description="Expire after this many milliseconds")]


async def redis_key_set(
    ctx: Context[Any, Any],
    key: Key,
    value: Annotated[str, Field(description="String value")],
    ttl_ms: TtlMs = None,
    nx: Annotated[bool, Field(description="Only if the key does not exist")] = False,
    xx: Annotated[bool, Field(description="Only if the key exists")] = False,
    keep_ttl: Annotated[bool, Field(description="Keep the existing TTL (KEEPTTL)")] = False,
) -> WriteResult:
    """Set a string key, optionally with a TTL and NX/XX conditions (overwrites an existing value)."""
    r = _r(ctx)
    if nx and xx:
        raise tool_error("set the key", "nx and xx exclude each other", hint="choose one")
    try:
        client = await r.client()
        ok = await client.set(key, value, px=ttl_ms, nx=nx, xx=xx, keepttl=keep_ttl)
        ttl = int(await client.pttl(key))
    except Exception as exc:
        raise translate(exc, "set the key", r) from exc
    return WriteResult(key=key, applied=bool(ok), ttl_ms=ttl if ttl >= -1 else None)


async def redis_keys_delete(
    ctx: Context[Any, Any],
    keys: Annotated[list[str], Field(min_length=1, max_length=1000, description="Keys to delete (UNLINK)")],
) -> WriteResult:
    """Delete keys with UNLINK (memory is freed in the background, so big keys do not block Redis)."""
    r = _r(ctx)
    try:
        n = int(await (await r.client()).unlink(*keys))
    except Exception as exc:
        raise translate(exc, "delete keys", r) from exc
    return WriteResult(key=keys[0] if len(keys) == 1 else f"{len(keys)} keys", applied=n > 0, changed=n)


async def redis_key_expire(
    ctx: Context[Any, Any],
    key: Key,
    ttl_ms: Annotated[int | None, Field(ge=1, description="New TTL in milliseconds (PEXPIRE)")] = None,
    persist: Annotated[bool, Field(description="Remove the TTL instead (PERSIST)")] = False,
) -> WriteResult:
    """Set a key's TTL (PEXPIRE) or remove it (PERSIST)."""
    r = _r(ctx)
    if (ttl_ms is None) == (not persist):
        raise tool_error("change the TTL", "give exactly one of ttl_ms or persist=true", hint="e.g. ttl_ms=60000")
    try:
        client = await r.client()
        ok = await client.persist(key) if persist else await client.pexpire(key, ttl_ms or 0)
        ttl = int(await client.pttl(key))
    except Exception as exc:
        raise translate(exc, "change the TTL", r) from exc
    return WriteResult(key=key, applied=bool(ok), ttl_ms=ttl if ttl >= -1 else None)


async def redis_hash_set(
    ctx: Context[Any, Any],
    key: Key,
    fields: Annotated[dict[str, str], Field(min_length=1, description="field -> value")],
) -> WriteResult:
    """Set hash fields (HSET); existing fields are overwritten."""
    r = _r(ctx)
    try:
        client = await r.client()
        n = int(await client.hset(key, mapping=fields))
        ln = int(await client.hlen(key))
    except Exception as exc:
        raise translate(exc, "set hash fields", r) from exc
    return WriteResult(key=key, applied=True, changed=n, length=ln)


async def redis_hash_delete(
    ctx: Context[Any, Any],
    key: Key,
    fields: Annotated[list[str], Field(min_length=1, description="Fields to remove (HDEL)")],
) -> WriteResult:
    """Remove hash fields (HDEL)."""
    r = _r(ctx)
    try:
        client = await r.client()
        n = int(await client.hdel(key, *fields))
        ln = int(await client.hlen(key))
    except Exception as exc:
        raise translate(exc, "delete hash fields", r) from exc
    return WriteResult(key=key, applied=n > 0, changed=n, length=ln)


End = Annotated[Literal["left", "right"], Field(description="Head (left) or tail (right)")]


async def redis_list_push(
    ctx: Context[Any, Any],
    key: Key,
    values: Annotated[list[str], Field(min_length=1, description="Values, pushed in order")],
    end: End = "right",
) -> WriteResult:
    """Push values onto a list (RPUSH/LPUSH); creates the list."""
    r = _r(ctx)
    try:
        client = await r.client()
        ln = int(await (client.rpush(key, *values) if end == "right" else client.lpush(key, *values)))
    except Exception as exc:
        raise translate(exc, "push to the list", r) from exc
    return WriteResult(key=key, applied=True, changed=len(values), length=ln)


async def redis_list_pop(
    ctx: Context[Any, Any],
    key: Key,
    end: End = "left",
    count: Annotated[int, Field(ge=1, le=1000, description="Elements to pop")] = 1,
) -> WriteResult:
    """Pop and return elements from a list's head or tail (LPOP/RPOP with count)."""
    r = _r(ctx)
    try:
        client = await r.client()
        vals = await (client.lpop(key, count) if end == "left" else client.rpop(key, count))
        ln = int(await client.llen(key))
    except Exception as exc:
        raise translate(exc, "pop from the list", r) from exc
    popped = [value_json(v) for v in vals or []]
    return WriteResult(key=key, applied=bool(popped), changed=len(popped), length=ln, values=popped)


async def redis_set_add(
    ctx: Context[Any, Any],
    key: Key,
    members: Annotated[list[str], Field(min_length=1, description="Members to add (SADD)")],
) -> WriteResult:
    """Add members to a set (SADD)."""
    r = _r(ctx)
    try:
        client = await r.client()
        n = int(await client.sadd(key, *members))
        ln = int(await client.scard(key))
    except Exception as exc:
        raise translate(exc, "add set members", r) from exc
    return WriteResult(key=key, applied=n > 0, changed=n, length=ln)


async def redis_set_remove(
    ctx: Context[Any, Any],
    key: Key,
    members: Annotated[list[str], Field(min_length=1, description="Members to remove (SREM)")],
) -> WriteResult:
    """Remove members from a set (SREM)."""
    r = _r(ctx)
    try:
        client = await r.client()
        n = int(await client.srem(key, *members))
        ln = int(await client.scard(key))
    except Exception as exc:
        raise translate(exc, "remove set members", r) from exc
    return WriteResult(key=key, applied=n > 0, changed=n, length=ln)


async def redis_zset_add(
    ctx: Context[Any, Any],
    key: Key,
    members: Annotated[dict[str, float], Field(min_length=1, description="member -> score")],
    condition: Annotated[
        Literal["nx", "xx", "gt", "lt"] | None,
        Field(description="nx: only new members; xx: only existing; gt/lt: only raise/lower scores"),
    ] = None,
) -> WriteResult:
    """Add members to a sorted set or update their scores (ZADD)."""
    r = _r(ctx)
    try:
        client = await r.client()
        n = int(
            await client.zadd(
                key,
                members,
                nx=condition == "nx",
                xx=condition == "xx",
                gt=condition == "gt",
                lt=condition == "lt",
                ch=True,
            )
        )
        ln = int(await client.zcard(key))
    except Exception as exc:
        raise translate(exc, "add sorted-set members", r) from exc
    return WriteResult(key=key, applied=n > 0, changed=n, length=ln)


async def redis_zset_remove(
    ctx: Context[Any, Any],
    key: Key,
    members: Annotated[list[str], Field(min_length=1, description="Members to remove (ZREM)")],
) -> WriteResult:
    """Remove members from a sorted set (ZREM)."""
    r = _r(ctx)
    try:
        client = await r.client()
        n = int(await client.zrem(key, *members))
        ln = int(await client.zcard(key))
    except Exception as exc:
        raise translate(exc, "remove sorted-set members", r) from exc
    return WriteResult(key=key, applied=n > 0, changed=n, length=ln)


async def redis_stream_add(
    ctx: Context[Any, Any],
    key: Key,
    fields: Annotated[dict[str, str], Field(min_length=1, description="Entry fields")],
    id: Annotated[str, Field(description="Entry id; '*' = generated")] = "*",
) -> WriteResult:
    """Append an entry to a stream (XADD); creates the stream."""
    r = _r(ctx)
    try:
        client = await r.client()
        eid = await client.xadd(key, fields, id=id)
        ln = int(await client.xlen(key))
    except Exception as exc:
        raise translate(exc, "append to the stream", r) from exc
    return WriteResult(key=key, applied=True, changed=1, length=ln, id=text(eid))


async def redis_stream_group_create(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1, description="Consumer group name")],
    start_id: Annotated[str, Field(description="Deliver entries after this id: '$' = only new, '0' = all")] = "$",
    mkstream: Annotated[bool, Field(description="Create the stream when missing")] = True,
) -> WriteResult:
    """Create a consumer group on a stream (XGROUP CREATE)."""
    r = _r(ctx)
    try:
        await (await r.client()).xgroup_create(key, group, id=start_id, mkstream=mkstream)
    except Exception as exc:
        raise translate(exc, "create the consumer group", r) from exc
    return WriteResult(key=key, applied=True)


async def redis_stream_ack(
    ctx: Context[Any, Any],
    key: Key,
    group: Annotated[str, Field(min_length=1, description="Consumer group")],
    ids: Annotated[list[str], Field(min_length=1, max_length=1000, description="Entry ids to acknowledge")],
) -> WriteResult:
    """Acknowledge processed entries of a consumer group (XACK), removing them from its pending list."""
    r = _r(ctx)
    try:
        n = int(await (await r.client()).xack(key, group, *ids))
    except Exception as exc:
        raise translate(exc, "acknowledge entries", r) from exc
    return WriteResult(key=key, applied=n > 0, changed=n)


class PublishResult(BaseModel):
    channel: str
    receivers: int = Field(description="Subscribers that received the message (this node / shard)")


async def redis_publish(
    ctx: Context[Any, Any],
    channel: Annotated[str, Field(min_length=1, description="Channel")],
    message: Annotated[str, Field(description="Message text")],
) -> PublishResult:
    """Publish a message to a pub/sub channel (PUBLISH)."""
    r = _r(ctx)
    try:
        n = int(await (await r.client()).publish(channel, message))
    except Exception as exc:
        raise translate(exc, "publish", r) from exc
    return PublishResult(channel=channel, receivers=n)


TOOLS = [
    ToolSpec(redis_keys_scan, "keys_scan", "Redis: list keys (SCAN)", READ),
    ToolSpec(redis_key_info, "key_info", "Redis: key type, TTL, memory, encoding", READ),
    ToolSpec(redis_key_get, "key_get", "Redis: read a value by type", READ),
    ToolSpec(redis_stream_range, "stream_range", "Redis: read stream entries", READ),
    ToolSpec(redis_stream_info, "stream_info", "Redis: stream, groups and consumers", READ),
    ToolSpec(redis_stream_pending, "stream_pending", "Redis: pending stream entries", READ),
    ToolSpec(redis_subscribe, "subscribe", "Redis: listen on channels (bounded)", READ),
    ToolSpec(redis_info, "info", "Redis: INFO and cache figures", READ),
    ToolSpec(redis_slowlog, "slowlog", "Redis: slow commands", READ),
    ToolSpec(redis_latency, "latency", "Redis: latency monitor", READ),
    ToolSpec(redis_clients_list, "clients_list", "Redis: connected clients", READ),
    ToolSpec(redis_memory_doctor, "memory_doctor", "Redis: memory diagnosis", READ),
    ToolSpec(redis_keyspace_report, "keyspace_report", "Redis: sampled big-key and prefix report", READ),
    ToolSpec(redis_key_set, "key_set", "Redis: set a string", DESTRUCTIVE),
    ToolSpec(redis_keys_delete, "keys_delete", "Redis: delete keys", DESTRUCTIVE),
    ToolSpec(redis_key_expire, "key_expire", "Redis: set or remove a TTL", DESTRUCTIVE),
    ToolSpec(redis_hash_set, "hash_set", "Redis: set hash fields", WRITE_IDEMPOTENT),
    ToolSpec(redis_hash_delete, "hash_delete", "Redis: delete hash fields", DESTRUCTIVE),
    ToolSpec(redis_list_push, "list_push", "Redis: push to a list", WRITE),
    ToolSpec(redis_list_pop, "list_pop", "Redis: pop from a list", DESTRUCTIVE),
    ToolSpec(redis_set_add, "set_add", "Redis: add set members", WRITE_IDEMPOTENT),
    ToolSpec(redis_set_remove, "set_remove", "Redis: remove set members", DESTRUCTIVE),
    ToolSpec(redis_zset_add, "zset_add", "Redis: add sorted-set members", WRITE_IDEMPOTENT),
    ToolSpec(redis_zset_remove, "zset_remove", "Redis: remove sorted-set members", DESTRUCTIVE),
    ToolSpec(redis_stream_add, "stream_add", "Redis: append a stream entry", WRITE),
    ToolSpec(redis_stream_group_create, "stream_group_create", "Redis: create a consumer group", WRITE),
    ToolSpec(redis_stream_ack, "stream_ack", "Redis: acknowledge stream entries", WRITE),
    ToolSpec(redis_publish, "publish", "Redis: publish a message", WRITE),
]

COMMAND_TOOLS = [
    ToolSpec(make_command_tool("admin"), "command", "Redis: run any command (admin)", DESTRUCTIVE, level=ADMIN),
    ToolSpec(make_command_tool("write"), "command", "Redis: run a read or write command", DESTRUCTIVE),
    ToolSpec(make_command_tool("read"), "command", "Redis: run a read-only command", READ),
]
"""Variants of `redis_command`; `register` exposes the most capable one the policy permits."""
