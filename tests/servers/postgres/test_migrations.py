"""pg_migration_plan: a migration rehearsed against the real database, then rolled back."""

from __future__ import annotations

import asyncpg
import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.postgres.conftest import SCHEMA

pytestmark = pytest.mark.anyio
S = SCHEMA

MIGRATION = f"""
ALTER TABLE {S}.orders ADD COLUMN note text;
ALTER TABLE {S}.canary ALTER COLUMN id TYPE bigint;
CREATE INDEX orders_status_idx ON {S}.orders (status);
CREATE TABLE {S}.audit (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
ALTER TABLE {S}.customers DROP CONSTRAINT customers_tier_check;
"""


async def test_plan_reports_locks_rewrites_and_schema_changes_then_rolls_back(rw_client: Client, seeded: str) -> None:
    plan = ok(await rw_client.call_tool("pg_migration_plan", {"sql": MIGRATION}))
    steps = plan["steps"]
    assert [s["status"] for s in steps] == ["ALTER TABLE", "ALTER TABLE", "CREATE INDEX", "CREATE TABLE", "ALTER TABLE"]
    assert steps[0]["locks"] == [
        {"relation": f"{S}.orders", "mode": "AccessExclusiveLock", "blocks": "all reads and writes"}
    ]
    assert steps[0]["rewrites"] == [] and steps[1]["rewrites"] == [f"{S}.canary"]  # int -> bigint copies the table
    changes = {(c["relation"], c["change"], c["item"]): (c["before"], c["after"]) for c in plan["changes"]}
    assert changes[(f"{S}.orders", "added", "column note")] == (None, "text")
    assert changes[(f"{S}.canary", "changed", "column id")] == ("integer NOT NULL", "bigint NOT NULL")
    assert (f"{S}.orders", "added", "index orders_status_idx") in changes
    assert (f"{S}.audit", "table added", "table") in changes
    assert changes[(f"{S}.customers", "removed", "constraint customers_tier_check")][1] is None
    assert any("rewrites" in w and "canary" in w for w in plan["warnings"])
    assert any("orders (~600 rows)" in w for w in plan["warnings"])
    assert not any("audit" in w for w in plan["warnings"])  # a table the script creates blocks nobody
    assert plan["rolled_back"] is True and plan["truncated"] is False

    conn = await asyncpg.connect(seeded)  # nothing of it was committed
    try:
        assert await conn.fetchval(f"SELECT to_regclass('{S}.audit')") is None
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'note'", S
            )
            == 0
        )
        assert (
            await conn.fetchval(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'canary' "
                "AND column_name = 'id'",
                S,
            )
            == "integer"
        )
        assert await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE conname = 'customers_tier_check'") == 1
    finally:
        await conn.close()


async def test_statements_that_cannot_be_rehearsed_are_refused(rw_client: Client) -> None:
    for sql, expected in [
        (f"CREATE INDEX CONCURRENTLY i ON {S}.orders (status)", "cannot run inside a transaction"),
        (f"ALTER TABLE {S}.orders ADD COLUMN x int; COMMIT", "transaction control"),
        (f"VACUUM {S}.orders", "cannot run inside a transaction"),
        (f"COPY {S}.orders TO PROGRAM 'id'", "COPY to or from a server file or program"),
        ("", "no statement"),
        ("ALTER TABLE", "syntax error"),
    ]:
        assert expected in error_text(await rw_client.call_tool("pg_migration_plan", {"sql": sql})), sql


async def test_a_lock_wait_is_bounded_and_explained(rw_client: Client, seeded: str) -> None:
    holder = await asyncpg.connect(seeded)
    try:
        await holder.execute(f"BEGIN; LOCK TABLE {S}.canary IN ACCESS SHARE MODE")
        text = error_text(
            await rw_client.call_tool("pg_migration_plan", {"sql": f"ALTER TABLE {S}.canary ADD COLUMN z int"})
        )
        assert "SQLSTATE 55P03" in text and "statement 1 of the migration" in text and "pg_activity" in text
        await holder.execute("ROLLBACK")
    finally:
        await holder.close()


async def test_failing_statement_is_named_and_nothing_is_left(rw_client: Client, seeded: str) -> None:
    sql = f"ALTER TABLE {S}.orders ADD COLUMN keep_me int; ALTER TABLE {S}.orders ALTER COLUMN total TYPE text"
    text = error_text(await rw_client.call_tool("pg_migration_plan", {"sql": sql}))
    assert "statement 2 of the migration" in text and "SQLSTATE 0A000" in text and "order_totals" in text
    conn = await asyncpg.connect(seeded)
    try:
        assert await conn.fetchval("SELECT count(*) FROM information_schema.columns WHERE column_name = 'keep_me'") == 0
    finally:
        await conn.close()
