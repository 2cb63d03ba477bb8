"""pg_activity, pg_health and pg_top_queries against the real database."""

from __future__ import annotations

import anyio
import asyncpg
import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.postgres.conftest import SCHEMA

pytestmark = pytest.mark.anyio


async def test_activity_shows_a_blocked_session_and_its_blocker(ro_client: Client, seeded: str) -> None:
    holder = await asyncpg.connect(seeded)
    waiter = await asyncpg.connect(seeded)
    try:
        await holder.execute(f"BEGIN; LOCK TABLE {SCHEMA}.canary IN ACCESS EXCLUSIVE MODE")
        holder_pid = await holder.fetchval("SELECT pg_backend_pid()")
        waiter_pid = await waiter.fetchval("SELECT pg_backend_pid()")
        async with anyio.create_task_group() as tg:

            async def wait_for_lock() -> None:
                await waiter.execute(f"SET lock_timeout = '5s'; SELECT count(*) FROM {SCHEMA}.canary")

            tg.start_soon(wait_for_lock)
            blocked: dict[str, object] | None = None
            for _ in range(50):
                data = ok(await ro_client.call_tool("pg_activity", {"include_idle": True}))
                blocked = next((s for s in data["sessions"] if s["pid"] == waiter_pid), None)
                if blocked and blocked["blocked_by"]:
                    break
                await anyio.sleep(0.05)
            assert blocked is not None and blocked["blocked_by"] == [holder_pid]
            assert str(blocked["wait"]).startswith("Lock:")
            assert data["max_connections"] > 0 and data["total_connections"] >= 2
            await holder.execute("ROLLBACK")
    finally:
        await holder.close()
        await waiter.close()


async def test_activity_limit_truncates(ro_client: Client) -> None:
    data = ok(await ro_client.call_tool("pg_activity", {"include_idle": True, "limit": 1}))
    assert data["count"] <= 1


async def test_health_reports_every_area_and_finds_an_unused_index(ro_client: Client) -> None:
    data = ok(await ro_client.call_tool("pg_health", {}))
    names = [c["name"] for c in data["checks"]]
    assert names == [
        "cache",
        "connections",
        "indexes",
        "vacuum",
        "wraparound",
        "sequences",
        "long_transactions",
        "replication",
        "slots",
        "archiving",
        "checkpoints",
    ]
    idx = next(c for c in data["checks"] if c["name"] == "indexes")
    assert any(d["index"] == f"{SCHEMA}.orders_customer_idx" for d in idx["details"])  # never scanned yet
    assert data["worst"] in ("warning", "critical", "ok", "info")
    one = ok(await ro_client.call_tool("pg_health", {"areas": ["wraparound"]}))
    assert [c["name"] for c in one["checks"]] == ["wraparound"] and one["checks"][0]["status"] == "ok"


async def test_top_queries_from_pg_stat_statements(ro_client: Client, seeded: str) -> None:
    conn = await asyncpg.connect(seeded)
    try:
        await conn.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
        text = error_text(await ro_client.call_tool("pg_top_queries", {}))
        assert "not installed" in text and "shared_preload_libraries" in text
        await conn.execute("CREATE EXTENSION pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")  # statistics are server-wide and shared
        for _ in range(5):
            await conn.fetch(f"SELECT count(*) FROM {SCHEMA}.orders WHERE total > $1", 10)
    finally:
        await conn.close()
    data = ok(await ro_client.call_tool("pg_top_queries", {"sort_by": "calls", "limit": 50}))
    assert any(f"{SCHEMA}.orders WHERE total > $1" in q["query"] and q["calls"] >= 5 for q in data["queries"])
    assert data["count"] <= 50


def test_sql_text_passwords_are_masked() -> None:
    from servers.postgres.values import redact_sql

    out = redact_sql("ALTER ROLE app WITH LOGIN PASSWORD 'hunter2' VALID UNTIL 'infinity'")
    assert "hunter2" not in out and "VALID UNTIL 'infinity'" in out
    assert "pw" not in redact_sql("SELECT dblink('host=db password=pw dbname=x', 'SELECT 1')").split("password=")[1][:3]


async def test_activity_masks_a_password_in_a_running_statement(ro_client: Client, seeded: str) -> None:
    conn = await asyncpg.connect(seeded)
    try:
        async with anyio.create_task_group() as tg:

            async def sleeper() -> None:
                await conn.execute("SELECT pg_sleep(1.5), 'ALTER ROLE x PASSWORD ''hunter2'''")

            tg.start_soon(sleeper)
            await anyio.sleep(0.3)
            data = ok(await ro_client.call_tool("pg_activity", {}))
            texts = [s["query"] for s in data["sessions"] if s["query"] and "pg_sleep(1.5)" in s["query"]]
            assert texts and all("hunter2" not in t for t in texts)
    finally:
        await conn.close()
