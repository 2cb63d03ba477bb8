"""pg_query over stdio against the raw driver and the SDK floor, with the server's CPU per call.

One run, every variant interleaved round-robin (noise hits all alike):
- raw asyncpg in this process (`SELECT 1`, and the 1000×5-row page);
- the SDK floor: a minimal MCPServer with a no-op tool on the SDK's stdio transport, and the same server on
  our asyncio-pipe transport (composite/stdio.py);
- ours: `backend-architect-mcp serve --servers postgres` (stdio), pg_query `SELECT 1` and a 1000×5 page.
Each MCP variant is its own subprocess, so its CPU per call is read from /proc/<pid>/stat.

Run: `make bench` (or `.venv/bin/python -m bench.bench_postgres` with DATABASE_URL set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import asyncpg
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from bench.common import Stat, child_matching, children, cpu_seconds, measure, write

ROOT = Path(__file__).resolve().parents[1]
ROWS_SQL = (
    "SELECT g AS id, md5(g::text) AS name, g * 1.5 AS amount, (g % 2 = 0) AS flag, "
    "timestamptz '2024-01-01' + g * interval '1 minute' AS at FROM generate_series(1, 1000) g"
)


async def _client(stack: AsyncExitStack, argv: list[str], tag: str) -> tuple[Client, int]:
    before = set(children())
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=dict(os.environ), cwd=ROOT)
    errlog = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - closed by the stack
    client = await stack.enter_async_context(Client(stdio_client(params, errlog=errlog), cache=None))
    return client, child_matching(tag, exclude=before)


def _call(client: Client, tool: str, args: dict[str, Any]) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        r = await client.call_tool(tool, args)
        if r.is_error:
            raise RuntimeError(f"{tool}: {r.content}")
        return r

    return call


async def run(n: int) -> tuple[list[Stat], dict[str, float]]:
    """p50s of every variant and the server CPU (µs) per call of each MCP variant."""
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=2)
    py = sys.executable
    servers: dict[str, tuple[list[str], str, dict[str, Any]]] = {
        "SDK floor: no-op tool, SDK stdio": ([py, "-m", "bench.floor_server"], "noop", {}),
        "floor no-op on our stdio transport": ([py, "-m", "bench.floor_server", "--lean"], "noop", {}),
        "ours pg_query SELECT 1": (
            [py, "-m", "composite", "serve", "--servers", "postgres"],
            "pg_query",
            {"sql": "SELECT 1"},
        ),
        "ours pg_query 1000×5 rows": (
            [py, "-m", "composite", "serve", "--servers", "postgres", "--tools", "pg_query"],
            "pg_query",
            {"sql": ROWS_SQL, "limit": 1000},
        ),
    }
    variants: dict[str, Callable[[], Awaitable[object]]] = {
        "raw asyncpg SELECT 1": lambda: pool.fetchval("SELECT 1"),
        "raw asyncpg 1000×5 rows": lambda: pool.fetch(ROWS_SQL),
    }
    pids: dict[str, int] = {}
    async with AsyncExitStack() as stack:
        for name, (argv, tool, args) in servers.items():
            client, pid = await _client(stack, argv, " ".join(argv[1:]))
            variants[name], pids[name] = _call(client, tool, args), pid
        for fn in variants.values():  # warm-up outside the CPU window
            for _ in range(20):
                await fn()
        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
        stats = await measure(variants, n=n, warmup=0)
        cpu = {k: (cpu_seconds(p) - cpu0[k]) / n * 1e6 for k, p in pids.items()}
    await pool.close()
    return stats, cpu


def report(stats: list[Stat], cpu: dict[str, float]) -> str:
    p50 = {s.name: s.p50_us for s in stats}
    floor = p50["SDK floor: no-op tool, SDK stdio"]
    lines = [
        "## PostgreSQL over stdio: ours vs. the raw driver and the SDK floor (one run, interleaved)",
        "",
        "| variant | n | p50 (µs) | p95 (µs) | server CPU per call (µs) |",
        "|---|---|---|---|---|",
    ]
    for s in stats:
        c = f"{cpu[s.name]:.0f}" if s.name in cpu else "-"
        lines.append(f"| {s.name} | {s.n} | {s.p50_us:.0f} | {s.p95_us:.0f} | {c} |")
    overhead = (p50["ours pg_query SELECT 1"] - p50["raw asyncpg SELECT 1"]) / floor
    page = cpu["ours pg_query 1000×5 rows"]
    lines += [
        "",
        f"- (pg_query `SELECT 1` − raw asyncpg) ÷ SDK no-op floor = **{overhead:.2f}** (target ≤ 1.25)",
        f"- server CPU per pg_query ÷ per SDK no-op = "
        f"**{cpu['ours pg_query SELECT 1'] / cpu['SDK floor: no-op tool, SDK stdio']:.2f}**",
        f"- 1000×5-row page: **{page / 1000:.2f} ms** of server CPU per page (target ≤ 4 ms); end-to-end p50 "
        f"{p50['ours pg_query 1000×5 rows'] / 1000:.2f} ms vs raw asyncpg "
        f"{p50['raw asyncpg 1000×5 rows'] / 1000:.2f} ms",
        "",
        "Clients: the mcp 2.x `Client` (response cache off) in this process, one stdio subprocess per MCP variant. "
        "Server CPU = user+system time of that subprocess over the measured calls (/proc/<pid>/stat, 10 ms ticks), "
        "divided by the calls. The machine is shared (2 cores, other jobs running): compare ratios within one run.",
    ]
    return "\n".join(lines) + "\n"


async def main() -> None:
    stats, cpu = await run(int(os.environ.get("BENCH_N", "400")))
    path = write("postgres", report(stats, cpu))
    print(path.read_text())


if __name__ == "__main__":
    anyio.run(main)
