"""Key tools: SCAN-based browsing, per-key metadata and typed value reads with caps and cursors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import CappedItems, json_size, tool_error
from servers._common.paging import page_size
from servers._common.tools import READ, tool
from servers.redis.base import (
    LENGTH_CMD,
    Cursor,
    Key,
    Limit,
    RedisType,
    bad_cursor,
    collect_entries,
    collector,
    parse_scan_cursor,
    scan_pages,
    state_of,
)
from servers.redis.client import Redis, text, value_json


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


@tool("Redis: list keys (SCAN)", READ)
async def redis_keys_scan(
    ctx: Context[Any, Any],
    pattern: Annotated[str, Field(description="Glob, e.g. user:* (default all)")] = "*",
    type: Annotated[RedisType | None, Field(description="Only keys of this type")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
    with_types: Annotated[bool, Field(description="Also return each key's type and TTL")] = True,
) -> KeyPage:
    """List keys matching a pattern with SCAN (never KEYS), one bounded page at a time.

    A page may hold fewer than `limit` keys: continue with `next_cursor` until it is null.
    """
    r = state_of(ctx)
    page = page_size(r.settings, limit)
    node_i, scan_cur, skip = parse_scan_cursor(cursor, "keys", with_node=True)
    col = collector(page, r.settings.max_bytes)
    deadline = time.monotonic() + min(2.0, r.settings.command_timeout_s)
    next_cursor: str | None = None
    try:
        nodes = await r.nodes()
        if node_i >= len(nodes):
            raise bad_cursor(cursor or "", "keys")
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

            resume, skip_at, _ = await scan_pages(fetch, lambda k: k, col, scan_cur, skip, deadline=deadline)
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
        raise r.translate(exc, "scan keys") from exc
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


async def _optional(coro: Awaitable[Any]) -> Any:
    from redis.exceptions import ResponseError

    try:
        return await coro
    except ResponseError:
        return None


@tool("Redis: key type, TTL, memory, encoding", READ)
async def redis_key_info(ctx: Context[Any, Any], key: Key) -> KeyInfo:
    """Get one key's type, TTL, memory usage, encoding and length (cheap)."""
    r = state_of(ctx)
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
        if typ in LENGTH_CMD:
            length = int(await client.execute_command(LENGTH_CMD[typ], key))
        idle = await _optional(client.execute_command("OBJECT", "IDLETIME", key))
        freq = await _optional(client.execute_command("OBJECT", "FREQ", key))
    except Exception as exc:
        raise r.translate(exc, "inspect the key") from exc
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


@dataclass
class _Page:
    """One page read of an aggregate key: what the per-type readers share."""

    r: Redis
    client: Any
    key: str
    typ: str
    cursor: str | None
    page: int
    col: CappedItems[Any]
    length: int | None


async def _scan_members(p: _Page) -> str | None:
    """hash and set: HSCAN/SSCAN pages; the cursor is `scan:skip`."""
    _, scan_cur, skip = parse_scan_cursor(p.cursor, p.typ)
    cmd = "HSCAN" if p.typ == "hash" else "SSCAN"

    async def fetch(cur: int) -> tuple[int, list[Any]]:
        reply = await p.r.key_command(p.key, cmd, p.key, cur, "COUNT", p.r.settings.scan_count)
        flat = list(reply[1])
        if p.typ == "hash":
            return int(reply[0]), [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
        return int(reply[0]), flat

    def conv(x: Any) -> dict[str, Any]:
        if p.typ == "hash":
            return {"field": value_json(x[0]), "value": value_json(x[1])}
        return {"member": value_json(x)}

    resume, skip_at, _ = await scan_pages(fetch, conv, p.col, scan_cur, skip)
    return f"{resume}:{skip_at}" if resume is not None else None


async def _range_items(p: _Page) -> str | None:
    """list and zset: index ranges; the cursor is the next index."""
    try:
        start = int(p.cursor or 0)
    except ValueError:
        raise bad_cursor(p.cursor or "", p.typ) from None
    stop = start + p.page - 1
    if p.typ == "list":
        items = [
            {"index": start + i, "value": value_json(v)}
            for i, v in enumerate(await p.client.lrange(p.key, start, stop))
        ]
    else:
        vals = await p.client.zrange(p.key, start, stop, withscores=True)
        items = [{"member": value_json(m), "score": s} for m, s in vals]
    for item in items:
        if not p.col.add(item):
            break
    end = start + len(p.col.items)
    return str(end) if p.length is not None and end < p.length else None


async def _stream_entries(p: _Page) -> str | None:
    """stream: XRANGE pages; the cursor is the exclusive id to continue after."""
    return collect_entries(p.col, await p.client.xrange(p.key, p.cursor or "-", "+", count=p.page + 1))


_READERS: dict[str, Callable[[_Page], Awaitable[str | None]]] = {
    "hash": _scan_members,
    "set": _scan_members,
    "list": _range_items,
    "zset": _range_items,
    "stream": _stream_entries,
}


def _string_value(key: str, cursor: str | None, offset: int, first: list[Any]) -> KeyValue:
    """A string's chunk from the first round trip (TYPE, STRLEN, GETRANGE); the cursor is the next byte offset."""
    if cursor and not cursor.isdigit():
        raise bad_cursor(cursor, "the string")
    total = int(first[1])
    raw = bytes(first[2]) if offset < total else b""
    val, used = _utf8_chunk(raw)
    end = offset + used
    more = end < total
    notes = [f"string is {total} bytes; this page holds bytes {offset}..{end - 1}"] if more else []
    return KeyValue(
        key=key,
        type="string",
        exists=True,
        length=total,
        value=val,
        count=used,
        truncated=more,
        next_cursor=str(end) if more else None,
        notes=notes,
    )


async def _json_value(client: Any, key: str, json_path: str, cap: int) -> KeyValue:
    """A RedisJSON document at `json_path`, whole, or its first `cap` characters when larger."""
    doc = await client.execute_command("JSON.GET", key, json_path)
    doc_text = text(doc) if doc is not None else "null"
    parsed = orjson.loads(doc_text)
    typ = "ReJSON-RL"
    if json_size(parsed) <= cap:
        return KeyValue(key=key, type=typ, exists=True, length=None, value=parsed, count=1, truncated=False)
    return KeyValue(
        key=key,
        type=typ,
        exists=True,
        length=None,
        value=doc_text[:cap],
        count=cap,
        truncated=True,
        next_cursor=None,
        notes=[f"document larger than {cap} bytes; read a narrower `json_path`"],
    )


async def _first_round(client: Any, key: str, offset: int, cap: int) -> list[Any]:
    """One round trip for the common case (a string): TYPE, STRLEN and the first chunk together."""
    pipe = client.pipeline(transaction=False)
    pipe.type(key)
    pipe.strlen(key)
    pipe.getrange(key, offset, offset + cap - 1)
    first: list[Any] = await pipe.execute(raise_on_error=False)
    if isinstance(first[0], Exception):
        raise first[0]
    return first


@tool("Redis: read a value by type", READ)
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
    """Read a key's value by its type, one capped page at a time; while `truncated`, pass `next_cursor` back."""
    r = state_of(ctx)
    cap = min(max_bytes or r.settings.max_bytes, r.settings.max_bytes)
    page = page_size(r.settings, limit)
    col = collector(page, cap)
    offset = int(cursor) if cursor and cursor.isdigit() else 0
    try:
        client = await r.client()
        first = await _first_round(client, key, offset, cap)
        typ = text(first[0])
        if typ == "none":
            return KeyValue(key=key, type="none", exists=False, length=None, count=0, truncated=False)
        if typ == "string":
            return _string_value(key, cursor, offset, first)
        if typ == "ReJSON-RL":
            return await _json_value(client, key, json_path, cap)
        reader = _READERS.get(typ)
        if reader is None:
            raise tool_error(
                "read the key",
                f"type {typ!r} has no reader here",
                hint="use redis_command with the type's own read commands",
            )
        length = int(await client.execute_command(LENGTH_CMD[typ], key)) if typ in LENGTH_CMD else None
        next_cursor = await reader(_Page(r, client, key, typ, cursor, page, col, length))
    except Exception as exc:
        raise r.translate(exc, "read the key") from exc
    return KeyValue(
        key=key,
        type=typ,
        exists=True,
        length=length,
        items=col.items,
        count=len(col.items),
        truncated=next_cursor is not None,
        next_cursor=next_cursor,
        notes=[f"page cut at the {cap}-byte cap"] if col.byte_cut else [],
    )
