"""Server time of one 1000×5-row page, in process: row shaping, the byte cap, and the SDK's conversion.

Variants, interleaved in one run on the same fetched records:
- `shaping before` = the per-value shaping of wave 1 (type dispatch per value, masking per row, a JSON size
  per row), kept here as the reference;
- `shaping now` = `RowShaper` (converters chosen once per column) + `fit_rows` (byte cap measured per page);
- `page now` = shaping now + the QueryResult the tool returns, the SDK's conversion to a CallToolResult and
  its JSON-RPC serialization (what the server does per page after the rows arrive);
- `raw dicts` = `[dict(r) for r in records]`, the floor.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import asyncpg

from bench.bench_postgres import ROWS_SQL
from bench.common import measure, table, write
from servers._common import json_size, redact_text
from servers._common.output import REDACTED
from servers.postgres.client import _init_connection
from servers.postgres.query import Column, QueryResult, fit_rows, pg_query
from servers.postgres.values import RowShaper, is_secret_column, pg_to_json


class _RowRedactorBefore:
    """Wave 1's masking, per row (reference only)."""

    def __init__(self, columns: list[str]) -> None:
        self.secret = {c for c in columns if is_secret_column(c)}

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        for k, v in row.items():
            if k in self.secret and isinstance(v, str | dict) and v not in ("", None):
                row[k] = REDACTED
            elif isinstance(v, str) and ("@" in v or "=" in v or "earer" in v):
                row[k] = redact_text(v)
        return row


def shaping_before(records: list[Any], names: list[str], max_bytes: int) -> list[dict[str, Any]]:
    mask = _RowRedactorBefore(names)
    rows: list[dict[str, Any]] = []
    used = 0
    for rec in records:
        row = mask({k: pg_to_json(v) for k, v in rec.items()})
        size = json_size(row)
        if rows and used + size > max_bytes:
            break
        used += size
        rows.append(row)
    return rows


async def main() -> None:
    from mcp.server.mcpserver.utilities.func_metadata import func_metadata
    from mcp.types import JSONRPCResponse

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    await _init_connection(conn)
    stmt = await conn.prepare(ROWS_SQL)
    records = await stmt.fetch()
    attrs = list(stmt.get_attributes())
    names = [a.name for a in attrs]
    await conn.close()
    meta = func_metadata(pg_query, skip_names=["ctx"])
    cap = 256_000 * 4  # the page fits: measure shaping, not cutting

    def now() -> list[dict[str, Any]]:
        return fit_rows(RowShaper(attrs, reveal=False).rows(records), cap)[0]

    def page() -> bytes:
        rows = now()
        result = QueryResult.model_construct(
            columns=[Column.model_construct(name=a.name, type=a.type.name) for a in attrs],
            rows=rows,
            row_count=len(rows),
            truncated=False,
            next_offset=None,
            notes=[],
        )
        call = meta.convert_result(result)
        return (
            JSONRPCResponse(jsonrpc="2.0", id=1, result=call.model_dump(by_alias=True, exclude_none=True))
            .model_dump_json(by_alias=True, exclude_unset=True)
            .encode()
        )

    async def a() -> object:
        return shaping_before(records, names, cap)

    async def b() -> object:
        return now()

    async def c() -> object:
        return page()

    async def d() -> object:
        return [dict(r) for r in records]

    assert shaping_before(records, names, cap) == now()
    stats = await measure(
        {"raw dicts": d, "shaping before (wave 1)": a, "shaping now": b, "page now (shaping + SDK conversion)": c},
        n=int(os.environ.get("BENCH_N", "60")),
        warmup=5,
    )
    notes = (
        f"One page of {len(records)} rows × {len(names)} columns (int, text, numeric, bool, timestamptz), in process, "
        "interleaved. 'page now' includes the SDK's text block, which is still the pretty-printed copy of the "
        "structured content here (another change makes it compact)."
    )
    print(
        write(
            "rows", table("1000×5 rows: server-side time per page", stats, "shaping before (wave 1)", notes)
        ).read_text()
    )


if __name__ == "__main__":
    anyio.run(main)
