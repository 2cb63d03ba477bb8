"""pg_schemas_list, pg_tables_list and pg_table_describe against the real database."""

from __future__ import annotations

import asyncpg
import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.postgres.conftest import SCHEMA

pytestmark = pytest.mark.anyio
S = SCHEMA


async def test_list_schemas(ro_client: Client) -> None:
    data = ok(await ro_client.call_tool("pg_schemas_list", {}))
    mine = next(s for s in data["schemas"] if s["name"] == S)
    assert mine["tables"] >= 6 and mine["comment"] == "test schema" and not mine["system"]
    system = ok(await ro_client.call_tool("pg_schemas_list", {"kind": "system"}))
    assert "pg_catalog" in {s["name"] for s in system["schemas"]}


async def test_list_tables_with_estimates_sizes_and_paging(ro_client: Client) -> None:
    data = ok(await ro_client.call_tool("pg_tables_list", {"schema": S}))
    by_name = {t["name"]: t for t in data["tables"]}
    assert by_name["orders"]["row_estimate"] == 600 and by_name["orders"]["total_bytes"] > 0
    assert by_name["order_totals"]["kind"] == "view" and by_name["mv"]["kind"] == "materialized_view"
    assert by_name["customers"]["comment"] == "people who buy things"
    page = ok(await ro_client.call_tool("pg_tables_list", {"schema": S, "limit": 2}))
    assert page["truncated"] and page["next_offset"] == 2 and page["count"] == 2
    views = ok(await ro_client.call_tool("pg_tables_list", {"schema": S, "kinds": ["view"], "name_like": "order%"}))
    assert [t["name"] for t in views["tables"]] == ["order_totals"]


async def test_describe_table(ro_client: Client) -> None:
    d = ok(await ro_client.call_tool("pg_table_describe", {"table": f"{S}.orders"}))
    cols = {c["name"]: c for c in d["columns"]}
    assert cols["id"]["identity"] == "ALWAYS" and cols["total"]["type"] == "numeric(12,2)"
    assert cols["tags"]["default"] == "'{}'::text[]" and not cols["status"]["nullable"]
    assert {c["type"] for c in d["constraints"]} >= {"primary_key", "foreign_key"}
    idx = {i["name"]: i for i in d["indexes"]}
    assert "orders_customer_idx" in idx and "placed_at DESC" in idx["orders_customer_idx"]["definition"]
    fk = d["foreign_keys"][0]
    assert fk["direction"] == "outgoing" and fk["table"] == f"{S}.customers" and "ON DELETE CASCADE" in fk["definition"]
    c = ok(await ro_client.call_tool("pg_table_describe", {"table": "customers", "schema": S}))
    assert any(f["direction"] == "incoming" for f in c["foreign_keys"])
    assert next(x for x in c["columns"] if x["name"] == "email")["comment"] == "login address"
    assert any(x["type"] == "check" and "tier" in x["definition"] for x in c["constraints"])
    text = error_text(await ro_client.call_tool("pg_table_describe", {"table": "no_such_table"}))
    assert "42P01" in text and "pg_tables_list" in text


async def test_schemas_are_paged(ro_client: Client, seeded: str) -> None:
    conn = await asyncpg.connect(seeded)
    try:
        for i in range(5):
            await conn.execute(f"DROP SCHEMA IF EXISTS bampage_{i} CASCADE; CREATE SCHEMA bampage_{i}")
        seen: list[str] = []
        offset: int | None = 0
        pages = 0
        while offset is not None:
            page = ok(
                await ro_client.call_tool("pg_schemas_list", {"name_like": "bampage\\_%", "limit": 2, "offset": offset})
            )
            seen += [s["name"] for s in page["schemas"]]
            assert page["truncated"] == (page["next_offset"] is not None)
            offset = page["next_offset"]
            pages += 1
        assert seen == [f"bampage_{i}" for i in range(5)] and pages == 3
    finally:
        for i in range(5):
            await conn.execute(f"DROP SCHEMA IF EXISTS bampage_{i} CASCADE")
        await conn.close()


async def test_describe_caps_very_wide_tables(ro_client: Client, seeded: str) -> None:
    conn = await asyncpg.connect(seeded)
    try:
        cols = ", ".join(f"c{i} int" for i in range(520))
        await conn.execute(f"DROP TABLE IF EXISTS {S}.wide; CREATE TABLE {S}.wide ({cols})")
        d = ok(await ro_client.call_tool("pg_table_describe", {"table": f"{S}.wide"}))
        assert d["truncated"] is True and len(d["columns"]) == 500 and d["columns"][-1]["name"] == "c499"
        narrow = ok(await ro_client.call_tool("pg_table_describe", {"table": f"{S}.orders"}))
        assert narrow["truncated"] is False
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {S}.wide")
        await conn.close()
