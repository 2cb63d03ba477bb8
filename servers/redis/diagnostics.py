"""Diagnostics: INFO with a cache-design summary, SLOWLOG, LATENCY, CLIENT LIST and the memory doctor.

Each takes an optional cluster `node`; replies are read unparsed from that node and parsed here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, redact, redact_output, tool_error, truncate_text
from servers._common.lines import alternatives, matches
from servers._common.paging import offset_page, page_size
from servers._common.tools import READ, tool
from servers.redis.base import Limit, Node, collector, pairs, state_of
from servers.redis.client import text


def node_name(n: Any) -> str | None:
    """The `host:port` of a cluster node; None for the standalone server."""
    return n.name if n is not None else None


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
    sections: dict[str, dict[str, Any]] = Field(description="The requested sections, from `offset`, byte-capped")
    fields: int = Field(description="Fields (over all returned sections) in this result")
    fields_total: int = Field(description="Fields of the requested sections in all")
    truncated: bool = Field(description="True when fields were left out: call again with offset=next_offset")
    next_offset: int | None = Field(description="Pass as `offset` (same `sections`) for the remaining fields")


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


@tool("Redis: INFO and cache figures", READ)
async def redis_info(
    ctx: Context[Any, Any],
    sections: Annotated[
        list[str] | None,
        Field(description="INFO sections in full, e.g. memory, commandstats, everything (default: summary only)"),
    ] = None,
    offset: Annotated[int, Field(ge=0)] = 0,
    node: Node = None,
) -> InfoResult:
    """Get server INFO as structured data with a summary (memory, hit ratio, evictions, keys); `next_offset`
    continues cut sections.
    """
    r = state_of(ctx)
    want = [s.lower() for s in sections or []]
    try:
        n = await r.pick_node(node)
        raw_summary = await r.node_command(n, "INFO", *_SUMMARY_SECTIONS)
        summ = parse_info(text(raw_summary))
        full: dict[str, dict[str, Any]] = {}
        if want:
            full = parse_info(text(await r.node_command(n, "INFO", *want)))
    except Exception as exc:
        raise r.translate(exc, "read INFO") from exc
    flat = [(sec, k, v) for sec, body in redact(full).items() for k, v in body.items()]
    kept, more, next_offset = offset_page(flat, offset, len(flat) or 1, r.settings.max_bytes)
    out: dict[str, dict[str, Any]] = {}
    for sec, k, v in kept:
        out.setdefault(sec, {})[k] = v
    if offset == 0:
        out.update({sec: {} for sec, body in full.items() if not body})
    return InfoResult(
        node=node_name(n),
        summary=_summary(summ),
        sections=out,
        fields=len(kept),
        fields_total=len(flat),
        truncated=more,
        next_offset=next_offset,
    )


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


@tool("Redis: slow commands", READ)
async def redis_slowlog(
    ctx: Context[Any, Any],
    limit: Annotated[int, Field(ge=1, le=128)] = 25,
    node: Node = None,
    grep: Annotated[
        str | None, Field(max_length=512, description="Only commands containing this (a|b: either)")
    ] = None,
) -> SlowlogResult:
    """List recent slow commands (SLOWLOG GET), newest first: command, duration, client."""
    r = state_of(ctx)
    alts = _grep_alternatives(grep)
    try:
        n = await r.pick_node(node)
        rows = await r.node_command(n, "SLOWLOG", "GET", 128 if alts else limit)
        total = int(await r.node_command(n, "SLOWLOG", "LEN"))
    except Exception as exc:
        raise r.translate(exc, "read the slowlog") from exc
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
    if alts:  # matched on the redacted command, so a pattern cannot probe a masked value
        entries = [e for e in entries if matches(" ".join(e.command), alts)][:limit]
    return SlowlogResult(
        node=node_name(n),
        entries=entries,
        count=len(entries),
        total_logged=total,
        truncated=total > len(entries),
    )


def _grep_alternatives(grep: str | None) -> list[str]:
    try:
        return alternatives(grep) if grep else []
    except ValueError as exc:
        raise tool_error("read the slowlog", str(exc), code="invalid_pattern") from exc


class LatencyEvent(BaseModel):
    event: str
    latest_at: int
    latest_ms: int
    max_ms: int


class LatencyResult(BaseModel):
    node: str | None
    latest: list[LatencyEvent] = Field(description="LATENCY LATEST: one row per event class")
    history: list[dict[str, int]] | None = Field(
        description="LATENCY HISTORY of `event` (time, latency_ms), oldest first: the newest `limit` samples"
    )
    history_total: int | None = Field(description="Samples Redis keeps for `event` (at most 160)")
    doctor: str = Field(description="LATENCY DOCTOR's human-readable analysis (byte-capped)")
    truncated: bool = Field(
        description="True when older history samples or the end of the doctor text were left out "
        "(raise `limit` up to the server's cap for more history)"
    )
    notes: list[str] = Field(default_factory=list)


@tool("Redis: latency monitor", READ)
async def redis_latency(
    ctx: Context[Any, Any],
    event: Annotated[str | None, Field(description="LATENCY HISTORY event, e.g. command")] = None,
    limit: Limit = None,
    node: Node = None,
) -> LatencyResult:
    """Show latency monitor figures: latest spikes, an event's history and LATENCY DOCTOR."""
    r = state_of(ctx)
    page = page_size(r.settings, limit)
    try:
        n = await r.pick_node(node)
        latest = await r.node_command(n, "LATENCY", "LATEST")
        hist = await r.node_command(n, "LATENCY", "HISTORY", event) if event else None
        doctor = text(await r.node_command(n, "LATENCY", "DOCTOR"))
    except Exception as exc:
        raise r.translate(exc, "read latency data") from exc
    samples = [{"time": int(t), "latency_ms": int(ms)} for t, ms in hist] if hist is not None else None
    kept = samples[-page:] if samples is not None else None
    doctor_text, doctor_cut = truncate_text(doctor, r.settings.max_bytes // 2, keep="head")
    notes = []
    if not latest:
        notes.append(
            "no latency events recorded: the monitor may be off (latency-monitor-threshold 0) or nothing exceeded it"
        )
    return LatencyResult(
        node=node_name(n),
        latest=[
            LatencyEvent(event=text(x[0]), latest_at=int(x[1]), latest_ms=int(x[2]), max_ms=int(x[3])) for x in latest
        ],
        history=kept,
        history_total=len(samples) if samples is not None else None,
        doctor=doctor_text,
        truncated=doctor_cut or (samples is not None and kept is not None and len(kept) < len(samples)),
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
    """One CLIENT LIST line as fields; text values (names any client may set) with secrets masked."""
    out: dict[str, Any] = {}
    for part in line.split(" "):
        k, sep, v = part.partition("=")
        if sep:
            out[k] = int(v) if v.lstrip("-").isdigit() else redact_output(v)
    return out


@tool("Redis: connected clients", READ)
async def redis_clients_list(
    ctx: Context[Any, Any],
    type: Annotated[
        Literal["normal", "master", "replica", "pubsub"] | None, Field(description="Only clients of this type")
    ] = None,
    limit: Limit = None,
    offset: Annotated[int, Field(ge=0)] = 0,
    node: Node = None,
) -> ClientsResult:
    """List connected clients (CLIENT LIST): address, name, age, idle time, db, last command."""
    r = state_of(ctx)
    page = page_size(r.settings, limit)
    try:
        n = await r.pick_node(node)
        args: list[Any] = ["CLIENT", "LIST"] + (["TYPE", type] if type else [])
        raw = text(await r.node_command(n, *args))
    except Exception as exc:
        raise r.translate(exc, "list clients") from exc
    rows = [_parse_client_line(x) for x in raw.splitlines() if x.strip()]
    col = collector(page, r.settings.max_bytes)
    for row in rows[offset:]:
        if not col.add(row):
            break
    end = offset + len(col.items)
    more = end < len(rows)
    return ClientsResult(
        node=node_name(n),
        clients=col.items,
        count=len(col.items),
        total=len(rows),
        truncated=more,
        next_offset=end if more else None,
    )


class MemoryReport(BaseModel):
    node: str | None
    doctor: str = Field(description="MEMORY DOCTOR's analysis (byte-capped)")
    stats: dict[str, Any] = Field(
        description="MEMORY STATS: allocator, overhead, dataset and per-db figures (db.N entries byte-capped)"
    )
    truncated: bool = Field(
        description="True when the doctor text or per-db entries were cut; per-db key counts: redis_info "
        "sections=['keyspace']"
    )


@tool("Redis: memory diagnosis", READ)
async def redis_memory_doctor(ctx: Context[Any, Any], node: Node = None) -> MemoryReport:
    """Diagnose memory use: MEMORY DOCTOR advice plus MEMORY STATS."""
    r = state_of(ctx)
    try:
        n = await r.pick_node(node)
        doctor = text(await r.node_command(n, "MEMORY", "DOCTOR"))
        stats = pairs(await r.node_command(n, "MEMORY", "STATS"))
    except Exception as exc:
        raise r.translate(exc, "diagnose memory") from exc
    half = r.settings.max_bytes // 2
    doctor_text, doctor_cut = truncate_text(doctor, half, keep="head")
    per_db = [(k, v) for k, v in stats.items() if k.startswith("db.")]
    kept, stats_cut = cap_items(per_db, max_items=len(per_db) or 1, max_bytes=half)
    figures = {k: v for k, v in stats.items() if not k.startswith("db.")} | dict(kept)
    return MemoryReport(node=node_name(n), doctor=doctor_text, stats=figures, truncated=doctor_cut or stats_cut)
