"""The sampled big-key and key-prefix report for cache design (SCAN under a key and a time budget)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common.tools import READ, tool
from servers.redis.base import LENGTH_CMD, Cursor, parse_scan_cursor, state_of
from servers.redis.client import Redis, text, value_json


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


@dataclass
class _Tally:
    """The running figures of one report: by type, by prefix, the biggest keys."""

    top: int
    delimiter: str
    prefix_depth: int
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    prefixes: dict[str, dict[str, Any]] = field(default_factory=dict)
    big: list[BigKey] = field(default_factory=list)
    sampled: int = 0
    no_ttl: int = 0

    def add(self, key: Any, typ: str, mem: int, ttl: int, length: int | None) -> None:
        self.sampled += 1
        if ttl < 0:
            self.no_ttl += 1
        bt = self.by_type.setdefault(typ, {"keys": 0, "memory_bytes": 0})
        bt["keys"] += 1
        bt["memory_bytes"] += mem
        parts = text(key).split(self.delimiter)
        pfx = self.delimiter.join(parts[: self.prefix_depth])
        pfx += self.delimiter + "*" if len(parts) > self.prefix_depth else ""
        p = self.prefixes.setdefault(pfx, {"keys": 0, "memory_bytes": 0, "with_ttl": 0, "types": {}})
        p["keys"] += 1
        p["memory_bytes"] += mem
        p["with_ttl"] += 1 if ttl >= 0 else 0
        p["types"][typ] = p["types"].get(typ, 0) + 1
        self.big.append(BigKey(key=value_json(key), type=typ, memory_bytes=mem, length=length, ttl_ms=ttl))
        if len(self.big) > self.top * 4:
            self.biggest()

    def biggest(self) -> list[BigKey]:
        self.big.sort(key=lambda b: -b.memory_bytes)
        del self.big[self.top :]
        return self.big

    def prefix_stats(self) -> list[PrefixStat]:
        stats = (
            PrefixStat(
                prefix=k,
                keys=v["keys"],
                memory_bytes=v["memory_bytes"],
                avg_bytes=v["memory_bytes"] // max(v["keys"], 1),
                with_ttl=v["with_ttl"],
                types=v["types"],
            )
            for k, v in self.prefixes.items()
        )
        return sorted(stats, key=lambda p: -p.memory_bytes)[: self.top]


async def _sample(client: Any, keys: list[Any], tally: _Tally) -> None:
    """Type, memory, TTL and length of one SCAN batch, in two pipelined round trips."""
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
        mem, ttl = res[3 * i + 1], res[3 * i + 2]
        ln = lens[i] if isinstance(lens[i], int) and t in LENGTH_CMD else None
        tally.add(k, t, int(mem) if isinstance(mem, int) else 0, int(ttl) if isinstance(ttl, int) else -1, ln)


async def _scan(r: Redis, pattern: str, cursor: str | None, budget: tuple[int, float], tally: _Tally) -> str | None:
    """SCAN the nodes from `cursor` into `tally` until done (None) or the budget (keys, deadline) is spent."""
    budget_keys, deadline = budget
    node_i, scan_cur, _ = parse_scan_cursor(cursor, "the key report", with_node=True)
    client = await r.client()
    nodes = await r.nodes()
    while node_i < len(nodes):
        count = max(1, min(r.settings.scan_count, 200, budget_keys - tally.sampled))
        reply = await r.node_command(nodes[node_i], "SCAN", scan_cur, "MATCH", pattern, "COUNT", count)
        scan_cur = int(reply[0])
        keys = list(reply[1])
        if keys:
            await _sample(client, keys, tally)
        if scan_cur == 0:
            node_i += 1
        if node_i >= len(nodes):
            break
        if tally.sampled >= budget_keys or time.monotonic() > deadline:
            return f"{node_i}:{scan_cur}:0"
    return None


def _advice(big: list[BigKey], pstats: list[PrefixStat], next_cursor: str | None) -> list[str]:
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
    return advice[:20]


@tool("Redis: sampled big-key and prefix report", READ)
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
    r = state_of(ctx)
    budget_keys = min(max_keys or r.settings.report_max_keys, r.settings.report_max_keys)
    budget_s = min(max_seconds or r.settings.report_max_seconds, r.settings.report_max_seconds)
    parse_scan_cursor(cursor, "the key report", with_node=True)
    t0 = time.monotonic()
    tally = _Tally(top, delimiter, prefix_depth)
    try:
        total_keys = 0
        for nd in await r.nodes():
            total_keys += int(await r.node_command(nd, "DBSIZE"))
        next_cursor = await _scan(r, pattern, cursor, (budget_keys, t0 + budget_s), tally)
    except Exception as exc:
        raise r.translate(exc, "build the key report") from exc
    big, pstats = tally.biggest(), tally.prefix_stats()
    return KeyReport(
        sampled_keys=tally.sampled,
        total_keys=total_keys,
        scan_complete=next_cursor is None,
        elapsed_s=round(time.monotonic() - t0, 3),
        by_type=tally.by_type,
        biggest_keys=big,
        prefixes=pstats,
        keys_without_ttl=tally.no_ttl,
        next_cursor=next_cursor,
        truncated=next_cursor is not None,
        advice=_advice(big, pstats, next_cursor),
    )
