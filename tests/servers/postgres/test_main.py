"""`python -m servers.postgres`: the module alone over stdio, with the same tool names and behaviour."""

from __future__ import annotations

import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ok

pytestmark = pytest.mark.anyio


async def test_module_runs_alone_over_stdio(database_url: str) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "servers.postgres"], env=dict(os.environ))
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "pg_query" in names and "pg_execute" not in names  # read-only by default, same prefix
        data = ok(await c.call_tool("pg_query", {"sql": "SELECT 'alone' AS how"}))
        assert data["rows"] == [{"how": "alone"}]


async def test_module_alone_honours_the_write_policy(database_url: str) -> None:
    env = {**os.environ, "BAM_ALLOW_WRITES": "postgres"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "servers.postgres"], env=env)
    async with Client(params) as c:
        assert "pg_execute" in {t.name for t in (await c.list_tools()).tools}
