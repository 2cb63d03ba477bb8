"""pg_query, pg_explain and pg_execute against the real database: types, parameters, paging, caps, errors."""

from __future__ import annotations

import json

import asyncpg
import pytest
from mcp import Client

from servers.postgres import build_server
from tests.conftest import error_text, ok
from tests.servers.postgres.conftest import SCHEMA

pytestmark = pytest.mark.anyio
S = SCHEMA


async def test_every_type_comes_back_as_sensible_json(ro_client: Client) -> None:
    data = ok(await ro_client.call_tool("pg_query", {"sql": f"SELECT * FROM {S}.types"}))
    row = data["rows"][0]
    types = {c["name"]: c["type"] for c in data["columns"]}
    assert types["n"] == "numeric" and row["n"] == "12345678901234567890.123456789"  # exact, as a string
    assert row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert row["ts"] == "2024-03-01T12:00:00+00:00"
    assert row["t"] == "2024-03-01T12:00:00"
    assert row["d"] == "2024-03-01" and row["tm"] == "13:45:00"
    assert row["i"] == "1 year 2 mons 3 days 04:05:06"  # PostgreSQL's own interval text: months stay months
    assert row["j"] == {"a": [1, 2]} and row["jb"] == {"k": {"n": 1}}
    assert row["arr"] == [1, 2, 3] and row["txt_arr"] == ["x", "y"]
    assert row["b"] == {"base64": "3q2+7w=="}
    assert row["r"] == {"lower": 1, "upper": 10, "lower_inc": True, "upper_inc": False}
    assert row["tsr"]["lower"].startswith("2024-01-01T00:00:00")
    assert row["ip"] == "192.0.2.5/24" and row["net"] == "198.51.100.0/24"
    assert row["bo"] is True and row["f"] == 1.5 and row["bi"] == 9007199254740993
    assert row["m"] == "$12.34" and row["bits"] == "1010" and row["pt"] == [1.0, 2.0]


async def test_bind_parameters_are_coerced_to_the_statement_types(ro_client: Client) -> None:
    sql = (
        f"SELECT count(*) AS n FROM {S}.orders WHERE placed_at >= $1 AND total > $2 AND status = ANY($3) "
        "AND $4::uuid IS NOT NULL AND $5::jsonb ? 'k'"
    )
    params = ["2024-01-02T00:00:00Z", 100, ["paid", "new"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", {"k": 1}]
    data = ok(await ro_client.call_tool("pg_query", {"sql": sql, "params": params}))
    assert data["rows"][0]["n"] > 0


async def test_wrong_parameter_count_is_explained(ro_client: Client) -> None:
    text = error_text(await ro_client.call_tool("pg_query", {"sql": "SELECT $1::int + $2::int", "params": [1]}))
    assert "2 placeholder(s) but 1 value(s)" in text


async def test_paging_walks_every_row_once(ro_client: Client) -> None:
    seen: list[int] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        data = ok(
            await ro_client.call_tool(
                "pg_query", {"sql": f"SELECT id FROM {S}.orders ORDER BY id", "limit": 250, "offset": offset}
            )
        )
        seen += [r["id"] for r in data["rows"]]
        assert data["truncated"] == (data["next_offset"] is not None)
        offset = data["next_offset"]
        pages += 1
    assert pages == 3 and seen == list(range(1, 601))


async def test_byte_cap_truncates_with_a_next_page(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_PG_MAX_BYTES", "2048")
    async with Client(build_server()) as c:
        data = ok(await c.call_tool("pg_query", {"sql": f"SELECT * FROM {S}.customers ORDER BY id"}))
        assert data["truncated"] is True and 0 < data["row_count"] < 50
        assert data["next_offset"] == data["row_count"]
        assert any("byte cap" in n for n in data["notes"])
        rest = ok(
            await c.call_tool(
                "pg_query", {"sql": f"SELECT * FROM {S}.customers ORDER BY id", "offset": data["next_offset"]}
            )
        )
        assert rest["rows"][0]["id"] == data["rows"][-1]["id"] + 1


async def test_sql_errors_carry_sqlstate_position_and_hint(ro_client: Client) -> None:
    text = error_text(await ro_client.call_tool("pg_query", {"sql": f"SELECT nope FROM {S}.orders"}))
    assert "SQLSTATE 42703" in text and 'column "nope" does not exist' in text and "at character 8" in text
    assert "Hint:" in text
    text = error_text(await ro_client.call_tool("pg_query", {"sql": "SELECT * FROM missing_table"}))
    assert "SQLSTATE 42P01" in text and "pg_tables_list" in text
    text = error_text(await ro_client.call_tool("pg_query", {"sql": "SELEC 1"}))
    assert "42601" in text and "syntax error" in text
    text = error_text(await ro_client.call_tool("pg_query", {"sql": "SELECT 1/0"}))
    assert "SQLSTATE 22012" in text


async def test_statement_timeout_is_enforced_by_the_server(ro_client: Client) -> None:
    text = error_text(await ro_client.call_tool("pg_query", {"sql": "SELECT pg_sleep(5)", "timeout_ms": 200}))
    assert "SQLSTATE 57014" in text and "timeout" in text


async def test_explain_plan_and_analyze(ro_client: Client) -> None:
    sql = f"SELECT * FROM {S}.orders WHERE customer_id = $1 ORDER BY placed_at DESC"
    est = ok(await ro_client.call_tool("pg_explain", {"sql": sql, "params": [3]}))
    assert est["total_cost"] > 0 and est["execution_time_ms"] is None and est["node_types"]
    real = ok(await ro_client.call_tool("pg_explain", {"sql": sql, "params": [3], "analyze": True}))
    assert real["execution_time_ms"] is not None and real["rolled_back"] is True
    assert "Actual Rows" in real["plan"][0]["Plan"]
    # DML can be planned, not analyzed (that would execute it).
    ok(await ro_client.call_tool("pg_explain", {"sql": f"DELETE FROM {S}.canary"}))
    text = error_text(await ro_client.call_tool("pg_explain", {"sql": f"DELETE FROM {S}.canary", "analyze": True}))
    assert "pg_execute(dry_run=true)" in text
    text = error_text(await ro_client.call_tool("pg_explain", {"sql": "EXPLAIN SELECT 1"}))
    assert "without EXPLAIN" in text


async def test_execute_writes_commits_and_reports_rows(rw_client: Client, seeded: str) -> None:
    ok(await rw_client.call_tool("pg_execute", {"sql": f"CREATE TABLE {S}.scratch (id int PRIMARY KEY, v text)"}))
    try:
        r = ok(
            await rw_client.call_tool(
                "pg_execute",
                {
                    "sql": f"INSERT INTO {S}.scratch SELECT g, $1 FROM generate_series(1, 5) g RETURNING id",
                    "params": ["x"],
                },
            )
        )
        assert r["status"] == "INSERT 0 5" and r["rows_affected"] == 5 and len(r["returning"]) == 5
        assert r["committed"] is True
        dry = ok(await rw_client.call_tool("pg_execute", {"sql": f"DELETE FROM {S}.scratch", "dry_run": True}))
        assert dry["rows_affected"] == 5 and dry["committed"] is False
        conn = await asyncpg.connect(seeded)
        try:
            assert await conn.fetchval(f"SELECT count(*) FROM {S}.scratch") == 5
        finally:
            await conn.close()
        upd = ok(await rw_client.call_tool("pg_execute", {"sql": f"UPDATE {S}.scratch SET v = 'y' WHERE id > 3"}))
        assert upd["rows_affected"] == 2
        text = error_text(
            await rw_client.call_tool("pg_execute", {"sql": f"INSERT INTO {S}.scratch VALUES (1, 'dup')"})
        )
        assert "SQLSTATE 23505" in text and "Detail: Key (id)=(1) already exists" in text
    finally:
        ok(await rw_client.call_tool("pg_execute", {"sql": f"DROP TABLE {S}.scratch"}))


async def test_execute_refuses_transaction_control_and_server_access(rw_client: Client) -> None:
    for sql in [
        "COMMIT",
        "BEGIN",
        f"COPY {S}.canary TO PROGRAM 'id'",
        "ALTER SYSTEM SET work_mem = '1GB'",
        f"SELECT 1; DELETE FROM {S}.canary",
    ]:
        error_text(await rw_client.call_tool("pg_execute", {"sql": sql}))


async def test_explain_compacts_a_plan_over_the_byte_cap(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_PG_MAX_BYTES", "4096")
    union = " UNION ALL ".join(
        f"SELECT o.id FROM {S}.orders o JOIN {S}.customers c ON c.id = o.customer_id WHERE o.total > {i}"
        for i in range(12)
    )
    async with Client(build_server()) as c:
        big = ok(await c.call_tool("pg_explain", {"sql": union, "analyze": True}))
        assert big["truncated"] is True
        assert len(json.dumps(big["plan"])) <= 4096 + 512
        assert big["plan"][0]["Plan"]["Node Type"] == "Append" and big["execution_time_ms"] is not None
        assert "Seq Scan" in big["node_types"] or "Hash Join" in big["node_types"]  # summary from the full plan
        small = ok(await c.call_tool("pg_explain", {"sql": "SELECT 1"}))
        assert small["truncated"] is False


async def test_hypothetical_index_lowers_the_cost_without_building_anything(ro_client: Client, seeded: str) -> None:
    sql = f"SELECT * FROM {S}.orders WHERE status = 'paid' AND total > 490"
    hypo = [f"CREATE INDEX ON {S}.orders (total)"]
    r = ok(await ro_client.call_tool("pg_explain", {"sql": sql, "hypothetical_indexes": hypo}))
    assert r["baseline_total_cost"] is not None and r["total_cost"] < r["baseline_total_cost"]
    assert len(r["hypothetical_indexes_used"]) == 1 and "orders_total" in r["hypothetical_indexes_used"][0]
    conn = await asyncpg.connect(seeded)
    try:  # nothing was built
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders' AND indexdef LIKE '%(total)%'"
            )
            == 0
        )
    finally:
        await conn.close()
    # the session state does not leak into later calls on the pooled connection
    for _ in range(3):
        later = ok(await ro_client.call_tool("pg_explain", {"sql": sql}))
        assert later["hypothetical_indexes_used"] == [] and "Index Scan" not in later["node_types"]
        assert later["total_cost"] == r["baseline_total_cost"]


async def test_hypothetical_index_input_is_checked(ro_client: Client) -> None:
    sql = f"SELECT * FROM {S}.orders WHERE total > 1"
    text = error_text(
        await ro_client.call_tool("pg_explain", {"sql": sql, "hypothetical_indexes": [f"DROP TABLE {S}.orders"]})
    )
    assert "expected CREATE INDEX" in text
    text = error_text(
        await ro_client.call_tool(
            "pg_explain", {"sql": sql, "analyze": True, "hypothetical_indexes": [f"CREATE INDEX ON {S}.orders (total)"]}
        )
    )
    assert "cannot be used with ANALYZE" in text
    text = error_text(
        await ro_client.call_tool(
            "pg_explain", {"sql": sql, "hypothetical_indexes": [f"CREATE INDEX ON {S}.orders (nope)"]}
        )
    )
    assert 'column "nope" does not exist' in text
    ok(await ro_client.call_tool("pg_explain", {"sql": sql}))  # and the connection is clean afterwards


async def test_hypopg_functions_are_refused_in_plain_queries(ro_client: Client) -> None:
    text = error_text(
        await ro_client.call_tool(
            "pg_query", {"sql": f"SELECT * FROM hypopg_create_index('CREATE INDEX ON {S}.orders (total)')"}
        )
    )
    assert "hypopg_create_index" in text
    ok(await ro_client.call_tool("pg_query", {"sql": "SELECT * FROM hypopg_list_indexes"}))


async def test_session_state_left_by_a_write_does_not_leak_into_reads(rw_client: Client) -> None:
    before = ok(await rw_client.call_tool("pg_query", {"sql": "SHOW search_path"}))["rows"][0]["search_path"]
    for _ in range(3):  # every pooled connection a write touched is reset before reuse
        ok(await rw_client.call_tool("pg_execute", {"sql": f"SET search_path TO {S}"}))
        ok(await rw_client.call_tool("pg_execute", {"sql": "LISTEN bam_channel"}))
    for _ in range(12):
        row = ok(
            await rw_client.call_tool(
                "pg_query",
                {
                    "sql": "SELECT current_setting('search_path') AS sp, "
                    "(SELECT count(*) FROM pg_listening_channels()) AS channels"
                },
            )
        )["rows"][0]
        assert row == {"sp": before, "channels": 0}
    text = error_text(await rw_client.call_tool("pg_execute", {"sql": "SELECT pg_advisory_lock(4242)"}))
    assert "failed to execute" in text and "pg_advisory_lock" in text


async def test_secret_named_columns_and_url_passwords_are_masked(
    ro_client: Client, rw_client: Client, seeded: str
) -> None:
    conn = await asyncpg.connect(seeded)
    try:
        await conn.execute(
            f"DROP TABLE IF EXISTS {S}.accounts; CREATE TABLE {S}.accounts (id int, email text, password_hash text, "
            "api_key text, refresh_token text, token_count int, passenger text, dsn_note text); "
            f"INSERT INTO {S}.accounts VALUES (1, 'a@example.com', '$2b$12$abc', 'k-123', 'rt-456', 7, 'Ada', "
            "'postgresql://app:s3cr3t@db:5432/app')"
        )
        row = ok(await ro_client.call_tool("pg_query", {"sql": f"SELECT * FROM {S}.accounts"}))
        r = row["rows"][0]
        assert r["password_hash"] == r["api_key"] == r["refresh_token"] == "***REDACTED***"
        assert r["token_count"] == 7 and r["passenger"] == "Ada" and r["email"] == "a@example.com"
        assert "s3cr3t" not in r["dsn_note"] and r["dsn_note"].startswith("postgresql://app:")
        assert any("api_key, password_hash, refresh_token" in n for n in row["notes"])
        ret = ok(
            await rw_client.call_tool(
                "pg_execute", {"sql": f"UPDATE {S}.accounts SET api_key = 'k-789' RETURNING api_key", "dry_run": True}
            )
        )
        assert ret["returning"] == [{"api_key": "***REDACTED***"}]
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {S}.accounts")
        await conn.close()


async def test_secret_columns_can_be_revealed_explicitly(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_PG_REVEAL_SECRETS", "true")
    async with Client(build_server()) as c:
        row = ok(await c.call_tool("pg_query", {"sql": "SELECT 'x' AS password"}))
        assert row["rows"] == [{"password": "x"}] and "notes" not in row  # notes only when there are some


async def test_a_page_is_serialised_once_its_text_block_the_compact_json_of_the_structured_rows(
    ro_client: Client,
) -> None:
    r = await ro_client.call_tool("pg_query", {"sql": f"SELECT * FROM {S}.types"})
    data = ok(r)
    text = r.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text and ", " not in text and json.loads(text) == data  # compact, the same result
    tools = {t.name: t for t in (await ro_client.list_tools()).tools}
    schema = tools["pg_query"].output_schema
    assert schema is not None and set(schema["required"]) >= {"columns", "rows", "row_count", "truncated"}
    # Cheap for a client to check: no subschema for the fields every page has (nothing to descend into)
    assert schema == {
        "type": "object",
        "required": ["columns", "rows", "row_count", "truncated", "next_offset"],
        "properties": {"notes": {"type": "array"}},
    }
