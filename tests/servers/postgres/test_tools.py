"""The PostgreSQL tool list per policy, and behaviour when the database is down or unconfigured."""

from __future__ import annotations

import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.postgres import build_server
from servers.postgres.settings import PG_VARIABLES
from tests.conftest import error_text
from tests.servers.postgres.conftest import SCHEMA

pytestmark = pytest.mark.anyio
S = SCHEMA


async def test_read_only_mode_lists_no_write_tool(ro_client: Client) -> None:
    names = {t.name for t in (await ro_client.list_tools()).tools}
    assert names == {
        "pg_schemas_list",
        "pg_tables_list",
        "pg_table_describe",
        "pg_query",
        "pg_explain",
        "pg_activity",
        "pg_health",
        "pg_top_queries",
        "pg_migrations_status",
    }


async def test_write_mode_adds_execute_with_destructive_annotation(rw_client: Client) -> None:
    tools = {t.name: t for t in (await rw_client.list_tools()).tools}
    a = tools["pg_execute"].annotations
    assert a is not None and a.destructive_hint and not a.read_only_hint
    q = tools["pg_query"].annotations
    assert q is not None and q.read_only_hint and q.idempotent_hint and q.open_world_hint is False
    m = tools["pg_migration_plan"].annotations  # takes real locks, so only with writes allowed
    assert m is not None and not m.read_only_hint and not m.destructive_hint and m.idempotent_hint
    apply = tools["pg_migration_apply"].annotations
    assert apply is not None and not apply.read_only_hint and apply.destructive_hint and not apply.idempotent_hint
    rollback = tools["pg_migration_rollback"].annotations
    assert rollback is not None and rollback.destructive_hint and not rollback.read_only_hint
    status = tools["pg_migrations_status"].annotations
    assert status is not None and status.read_only_hint


async def test_unreachable_database_gives_actionable_error_and_server_stays_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:secretpw@127.0.0.1:1/db")
    async with Client(build_server(ToolPolicy())) as c:
        text = error_text(await c.call_tool("pg_query", {"sql": "SELECT 1"}))
        assert "unreachable at 127.0.0.1:1/db" in text and "DATABASE_URL" in text
        assert "secretpw" not in text
        assert len((await c.list_tools()).tools) == 9  # the server still answers


async def test_unconfigured_database_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for var in PG_VARIABLES:  # libpq's variables configure the module too
        monkeypatch.delenv(var, raising=False)
    async with Client(build_server()) as c:
        text = error_text(await c.call_tool("pg_schemas_list", {}))
        assert "not configured" in text and "DATABASE_URL" in text
