"""The sampled big-key and key-prefix report for cache design (SCAN under a key and a time budget)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers.redis.base import LENGTH_CMD, Cursor, parse_scan_cursor, state
from servers.redis.client import text, translate, value_json


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
    max_keys: Annotated[int | None, Field(ge=1, description="Most keys to sample")] = None,
    max_seconds: Annotated[float | None, Field(gt=0, description="Time budget")] = None,
    top: Annotated[int, Field(ge=1, le=200, description="How many top keys and prefixes")] = 20,
    delimiter: Annotated[str, Field(min_length=1, max_length=4, description="Prefix separator")] = ":",
    prefix_depth: Annotated[int, Field(ge=1, le=5, description="Parts per prefix")] = 1,
    cursor: Cursor = None,
) -> KeyReport:
    """Find big keys and heavy prefixes by sampling with SCAN: memory by type and prefix, keys without TTL, advice."""
    r = state(ctx)
    budget_keys = min(max_keys or r.settings.report_max_keys, r.settings.report_max_keys)
    budget_s = min(max_seconds or r.settings.report_max_seconds, r.settings.report_max_seconds)
    node_i, scan_cur, _ = parse_scan_cursor(cursor, "the key report", with_node=True)
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
                    pipe.execute_command(LENGTH_CMD.get(t, "EXISTS"), k)
                lens = await pipe.execute(raise_on_error=False)
                for i, k in enumerate(keys):
                    t = types[i]
                    if t == "none":
                        continue
                    mem = res[3 * i + 1]
                    mem = int(mem) if isinstance(mem, int) else 0
                    ttl = res[3 * i + 2]
                    ttl = int(ttl) if isinstance(ttl, int) else -1
                    ln = lens[i] if isinstance(lens[i], int) and t in LENGTH_CMD else None
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
