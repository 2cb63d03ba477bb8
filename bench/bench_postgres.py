"""p50 of `SELECT 1`: raw asyncpg vs. the same work done by pg_query vs. pg_query through the composite.

Run: `make bench` (or `.venv/bin/python -m bench.bench_postgres` with DATABASE_URL set).
"""

from __future__ import annotations

import os

import anyio
import asyncpg
from mcp import Client

from bench.common import measure, table, write
from composite.app import build
from composite.settings import AppSettings


async def main() -> None:
    url = os.environ["DATABASE_URL"]
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    app = build(AppSettings(servers="postgres"))

    async def raw() -> object:
        return await pool.fetchval("SELECT 1")

    async def raw_guarded() -> object:
        # what pg_query does on the wire: READ ONLY transaction, server-side timeouts, cursor page
        async with pool.acquire() as conn:
            await conn.execute("BEGIN READ ONLY; SET LOCAL statement_timeout = 15000; SET LOCAL lock_timeout = 2000")
            try:
                stmt = await conn.prepare("SELECT 1")
                cur = await stmt.cursor()
                return await cur.fetch(201)
            finally:
                await conn.execute("ROLLBACK")

    async with Client(app.server) as client:

        async def composite() -> object:
            r = await client.call_tool("pg_query", {"sql": "SELECT 1"})
            assert not r.is_error
            return r

        stats = await measure(
            {
                "raw asyncpg fetchval": raw,
                "raw asyncpg, guarded like pg_query": raw_guarded,
                "composite pg_query": composite,
            },
            n=int(os.environ.get("BENCH_N", "400")),
        )
    await pool.close()
    notes = (
        "Same process, interleaved round-robin. `composite pg_query` = in-memory MCP client -> composite server -> "
        "pglast check + volatile-function gate + READ ONLY transaction + statement/lock timeouts + cursor page + "
        "JSON conversion, plus the client's own jsonschema validation of the structured result "
        "(~0.4 ms of the gap, measured with cProfile). Peer: Postgres MCP Pro 0.3.0 no longer installs from PyPI "
        "(it pins pglast 7.2.0, "
        "which is gone), so it could not be measured."
    )
    path = write("postgres", table("PostgreSQL: SELECT 1", stats, "raw asyncpg fetchval", notes))
    print(path.read_text())


if __name__ == "__main__":
    anyio.run(main)
