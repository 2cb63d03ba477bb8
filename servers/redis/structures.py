"""Value writes: strings and TTLs, key deletion, hashes, lists, sets and sorted sets.

Each tool is one command followed by a cheap read of the result (new length or TTL), through
`base.call` / `base.counted`, which also translate Redis's errors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from servers._common import tool_error
from servers._common.tools import DELETE, DISRUPT, OVERWRITE, WRITE, WRITE_IDEMPOTENT, tool
from servers.redis.base import Key, WriteResult, call, counted, ttl_or_none
from servers.redis.client import value_json

TtlMs = Annotated[int | None, Field(ge=1, description="TTL in ms")]
End = Annotated[Literal["left", "right"], Field(description="Head (left) or tail (right)")]
Names = Annotated[list[str], Field(min_length=1)]  # the hash fields or set members a command takes


# ------------------------------------------------------------------------------------ keys, TTLs


@tool("Redis: set a string", OVERWRITE)
async def redis_key_set(
    ctx: Context[Any, Any],
    key: Key,
    value: str,
    ttl_ms: TtlMs = None,
    nx: Annotated[bool, Field(description="Only if the key does not exist")] = False,
    xx: Annotated[bool, Field(description="Only if the key exists")] = False,
    keep_ttl: Annotated[bool, Field(description="Keep the existing TTL (KEEPTTL)")] = False,
) -> WriteResult:
    """Set a string key, optionally with a TTL and NX/XX conditions (overwrites an existing value)."""
    if nx and xx:
        raise tool_error("set the key", "nx and xx exclude each other", hint="choose one")
    ok, ttl = await call(
        ctx,
        "set the key",
        lambda c: c.set(key, value, px=ttl_ms, nx=nx, xx=xx, keepttl=keep_ttl),
        lambda c: c.pttl(key),
    )
    return WriteResult(key=key, applied=bool(ok), ttl_ms=ttl_or_none(ttl))


@tool("Redis: delete keys", DELETE)
async def redis_keys_delete(
    ctx: Context[Any, Any],
    keys: Annotated[list[str], Field(min_length=1, max_length=1000)],
) -> WriteResult:
    """Delete keys with UNLINK (memory is freed in the background, so big keys do not block Redis)."""
    n, _ = await call(ctx, "delete keys", lambda c: c.unlink(*keys))
    deleted = int(n)
    return WriteResult(key=keys[0] if len(keys) == 1 else f"{len(keys)} keys", applied=deleted > 0, changed=deleted)


@tool("Redis: set or remove a TTL", OVERWRITE)
async def redis_key_expire(
    ctx: Context[Any, Any],
    key: Key,
    ttl_ms: Annotated[int | None, Field(ge=1, description="New TTL in ms")] = None,
    persist: Annotated[bool, Field(description="Remove the TTL instead (PERSIST)")] = False,
) -> WriteResult:
    """Set a key's TTL (PEXPIRE) or remove it (PERSIST)."""
    if (ttl_ms is None) == (not persist):
        raise tool_error("change the TTL", "give exactly one of ttl_ms or persist=true", hint="e.g. ttl_ms=60000")
    ok, ttl = await call(
        ctx,
        "change the TTL",
        lambda c: c.persist(key) if persist else c.pexpire(key, ttl_ms or 0),
        lambda c: c.pttl(key),
    )
    return WriteResult(key=key, applied=bool(ok), ttl_ms=ttl_or_none(ttl))


# ---------------------------------------------------------------------------------------- hashes


@tool("Redis: set hash fields", OVERWRITE)
async def redis_hash_set(
    ctx: Context[Any, Any],
    key: Key,
    fields: Annotated[dict[str, str], Field(min_length=1, description="field -> value")],
) -> WriteResult:
    """Set hash fields (HSET); existing fields are overwritten."""
    n, ln = await call(ctx, "set hash fields", lambda c: c.hset(key, mapping=fields), lambda c: c.hlen(key))
    return WriteResult(key=key, applied=True, changed=int(n), length=int(ln))


@tool("Redis: delete hash fields", DELETE)
async def redis_hash_delete(
    ctx: Context[Any, Any],
    key: Key,
    fields: Names,
) -> WriteResult:
    """Remove hash fields (HDEL)."""
    return await counted(ctx, "delete hash fields", key, lambda c: c.hdel(key, *fields), lambda c: c.hlen(key))


# ----------------------------------------------------------------------------------------- lists


@tool("Redis: push to a list", WRITE)
async def redis_list_push(
    ctx: Context[Any, Any],
    key: Key,
    values: Annotated[list[str], Field(min_length=1, description="Values, pushed in order")],
    end: End = "right",
) -> WriteResult:
    """Push values onto a list (RPUSH/LPUSH); creates the list."""
    ln, _ = await call(
        ctx, "push to the list", lambda c: c.rpush(key, *values) if end == "right" else c.lpush(key, *values)
    )
    return WriteResult(key=key, applied=True, changed=len(values), length=int(ln))


@tool("Redis: pop from a list", DISRUPT)
async def redis_list_pop(
    ctx: Context[Any, Any],
    key: Key,
    end: End = "left",
    count: Annotated[int, Field(ge=1, le=1000, description="Elements to pop")] = 1,
) -> WriteResult:
    """Pop and return elements from a list's head or tail (LPOP/RPOP with count)."""
    vals, ln = await call(
        ctx,
        "pop from the list",
        lambda c: c.lpop(key, count) if end == "left" else c.rpop(key, count),
        lambda c: c.llen(key),
    )
    popped = [value_json(v) for v in vals or []]
    return WriteResult(key=key, applied=bool(popped), changed=len(popped), length=int(ln), values=popped)


# ------------------------------------------------------------------------------ sets, sorted sets


@tool("Redis: add set members", WRITE_IDEMPOTENT)
async def redis_set_add(
    ctx: Context[Any, Any],
    key: Key,
    members: Names,
) -> WriteResult:
    """Add members to a set (SADD)."""
    return await counted(ctx, "add set members", key, lambda c: c.sadd(key, *members), lambda c: c.scard(key))


@tool("Redis: remove set members", DELETE)
async def redis_set_remove(
    ctx: Context[Any, Any],
    key: Key,
    members: Names,
) -> WriteResult:
    """Remove members from a set (SREM)."""
    return await counted(ctx, "remove set members", key, lambda c: c.srem(key, *members), lambda c: c.scard(key))


@tool("Redis: add sorted-set members", OVERWRITE)
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

    def zadd(c: Any) -> Any:
        return c.zadd(
            key,
            members,
            nx=condition == "nx",
            xx=condition == "xx",
            gt=condition == "gt",
            lt=condition == "lt",
            ch=True,
        )

    return await counted(ctx, "add sorted-set members", key, zadd, lambda c: c.zcard(key))


@tool("Redis: remove sorted-set members", DELETE)
async def redis_zset_remove(
    ctx: Context[Any, Any],
    key: Key,
    members: Names,
) -> WriteResult:
    """Remove members from a sorted set (ZREM)."""
    return await counted(ctx, "remove sorted-set members", key, lambda c: c.zrem(key, *members), lambda c: c.zcard(key))
