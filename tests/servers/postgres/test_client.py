"""The connection layer: read sessions read-only by connection settings, reads in one round trip through the
statement cache, the schema-change retry, and the private asyncpg API isolated in `fetch_page`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import pytest
from mcp import Client

from servers.postgres import build_server
from servers.postgres.client import fetch_page, resources
from servers.postgres.settings import PostgresSettings
from tests.conftest import error_text, ok
from tests.servers.postgres.conftest import SCHEMA

pytestmark = pytest.mark.anyio


def test_private_asyncpg_api_used_by_fetch_page_is_still_there() -> None:
    """fetch_page relies on asyncpg internals: this fails loudly (not subtly at run time) when they change."""
    prepare = inspect.signature(asyncpg.Connection._prepare).parameters
    assert "use_cache" in prepare and "record_class" in prepare, prepare
    execute = list(inspect.signature(asyncpg.Connection._execute).parameters)
    assert execute[:5] == ["self", "query", "args", "limit", "timeout"], execute
    assert hasattr(asyncpg.Connection, "_stmt_cache") or "_stmt_cache" in asyncpg.Connection.__slots__


@dataclass
class Turns:
    """Request turns seen by a loopback proxy: the client sending after the server has answered."""

    count: int = 0
    last: str = "server"


@asynccontextmanager
async def counting_proxy(url: str) -> AsyncIterator[tuple[str, Turns]]:
    """A loopback TCP proxy in front of PostgreSQL that counts client round trips."""
    parts = urlsplit(url)
    turns = Turns()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, side: str) -> None:
        try:
            while data := await reader.read(65536):
                if side == "client" and turns.last == "server":
                    turns.count += 1
                turns.last = side
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection(parts.hostname, parts.port or 5432)
        await asyncio.gather(pump(cr, sw, "client"), pump(sr, cw, "server"), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    netloc = parts.netloc.rsplit("@", 1)
    host = f"{netloc[0]}@127.0.0.1:{port}" if len(netloc) == 2 else f"127.0.0.1:{port}"
    try:
        yield urlunsplit(parts._replace(netloc=host)), turns
    finally:
        server.close()


async def test_a_cached_read_is_one_round_trip_with_the_row_limit_in_the_execute(seeded: str) -> None:
    async with counting_proxy(seeded) as (url, turns):
        settings = PostgresSettings(database_url=url, pool_min_size=1, pool_max_size=1)
        async with resources(settings) as pg, pg.connection() as conn:
            sql = f"SELECT id FROM {SCHEMA}.orders WHERE id > $1 ORDER BY id"
            rows, attrs = await fetch_page(conn, sql, lambda types: [0] if types == ["int8"] else [None], 5)
            assert [r["id"] for r in rows] == [1, 2, 3, 4, 5] and [a.name for a in attrs] == ["id"]
            before = turns.count
            rows, _ = await fetch_page(conn, sql, lambda types: [100], 3)
            assert [r["id"] for r in rows] == [101, 102, 103]
            assert turns.count - before == 1, f"{turns.count - before} round trips for a cached read"


async def test_pg_query_first_page_is_one_round_trip(seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with counting_proxy(seeded) as (url, turns):
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("BAM_PG_POOL_MAX_SIZE", "1")
        async with Client(build_server()) as c:
            ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))  # connect + prepare
            before = turns.count
            data = ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))
            assert data["rows"] == [{"one": 1}]
            assert turns.count - before == 1
            before = turns.count  # a user-function name costs the volatile-function gate: one more
            ok(await c.call_tool("pg_query", {"sql": f"SELECT {SCHEMA}.double_it(2) AS d"}))
            ok(await c.call_tool("pg_query", {"sql": f"SELECT {SCHEMA}.double_it(3) AS d"}))
            before = turns.count
            ok(await c.call_tool("pg_query", {"sql": f"SELECT {SCHEMA}.double_it(4) AS d"}))
            assert turns.count - before == 3  # gate (prepare is new: its own Parse) ...
            before = turns.count
            ok(await c.call_tool("pg_query", {"sql": f"SELECT {SCHEMA}.double_it(4) AS d"}))
            assert turns.count - before == 2  # ... then gate + read, both cached
            ok(await c.call_tool("pg_explain", {"sql": f"SELECT * FROM {SCHEMA}.orders WHERE id = $1", "params": [1]}))
            before = turns.count  # a plain EXPLAIN executes nothing: one round trip as well
            plan = ok(
                await c.call_tool("pg_explain", {"sql": f"SELECT * FROM {SCHEMA}.orders WHERE id = $1", "params": [2]})
            )
            assert plan["total_cost"] > 0 and turns.count - before == 1


async def test_read_sessions_are_read_only_by_connection_settings(seeded: str) -> None:
    async with resources(PostgresSettings(database_url=seeded)) as pg:
        async with pg.connection() as conn:
            assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
            assert await conn.fetchval("SHOW statement_timeout") == "15s"
            assert await conn.fetchval("SHOW lock_timeout") == "2s"
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await conn.execute(f"CREATE TABLE {SCHEMA}.never (a int)")
        async with pg.transaction(read_only=False) as tx:  # writes use their own pool, read-write
            assert await tx.conn.fetchval("SHOW transaction_read_only") == "off"


SESSION_FLIPS = [
    "SET default_transaction_read_only = off",
    "SET SESSION default_transaction_read_only TO false",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET transaction_read_only = off",
    "BEGIN READ WRITE",
    "START TRANSACTION READ WRITE",
    "COMMIT",
    "RESET default_transaction_read_only",
    "RESET ALL",
    "DISCARD ALL",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_catalog.set_config('default_transaction_read_only', 'off', false)",
    "SELECT \"set_config\"('transaction_read_only', 'off', true)",
    "SELECT 1; SET default_transaction_read_only = off",
    "SELECT 1; BEGIN READ WRITE",
    "WITH x AS (SELECT set_config('default_transaction_read_only', 'off', false)) SELECT * FROM x",
    "SELECT * FROM (SELECT set_config('default_transaction_read_only', 'off', false)) s",
    "PREPARE p AS SELECT 1",
    "DEALLOCATE ALL",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION DEFAULT",
    "LOAD 'auto_explain'",
]


@pytest.mark.parametrize("sql", SESSION_FLIPS)
async def test_no_read_can_switch_its_session_to_read_write(ro_client: Client, sql: str) -> None:
    text = error_text(await ro_client.call_tool("pg_query", {"sql": sql}))
    assert "refused" in text or "expected exactly one statement" in text, text
    for _ in range(12):  # every pooled read session is still read-only
        row = ok(
            await ro_client.call_tool(
                "pg_query",
                {
                    "sql": "SELECT current_setting('default_transaction_read_only') AS d, "
                    "current_setting('transaction_read_only') AS t"
                },
            )
        )["rows"][0]
        assert row == {"d": "on", "t": "on"}


async def test_a_schema_change_between_reads_is_retried_with_the_new_columns(ro_client: Client, seeded: str) -> None:
    admin = await asyncpg.connect(seeded)
    try:
        await admin.execute(f"DROP TABLE IF EXISTS {SCHEMA}.shape; CREATE TABLE {SCHEMA}.shape (a int)")
        await admin.execute(f"INSERT INTO {SCHEMA}.shape VALUES (1)")
        sql = f"SELECT * FROM {SCHEMA}.shape"
        for _ in range(3):  # cached on the pooled read sessions
            assert ok(await ro_client.call_tool("pg_query", {"sql": sql}))["rows"] == [{"a": 1}]
        await admin.execute(f"ALTER TABLE {SCHEMA}.shape ADD COLUMN b text DEFAULT 'x'")
        for _ in range(3):
            data = ok(await ro_client.call_tool("pg_query", {"sql": sql}))
            assert data["rows"] == [{"a": 1, "b": "x"}]
            assert [c["name"] for c in data["columns"]] == ["a", "b"]
        await admin.execute(f"ALTER TABLE {SCHEMA}.shape ALTER COLUMN a TYPE bigint")
        data = ok(await ro_client.call_tool("pg_query", {"sql": sql}))
        assert data["rows"] == [{"a": 1, "b": "x"}] and data["columns"][0]["type"] == "int8"
    finally:
        await admin.execute(f"DROP TABLE IF EXISTS {SCHEMA}.shape")
        await admin.close()


async def test_a_kept_connection_idle_too_long_goes_back_to_the_pool_and_none_is_kept_once_dropped(
    seeded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `KEPT_MAX_IDLE_S` the kept connection is handed to the pool (its idle expiry applies) and the read
    takes one from the pool; once `drop` began for a pool, a read ending then keeps nothing for it."""
    from servers.postgres import client

    async with resources(PostgresSettings(database_url=seeded, pool_min_size=1, pool_max_size=3)) as pg:
        pool = await pg.backend.get()
        kept = pg.kept
        assert kept is not None
        async with pg.connection() as first:
            await first.fetchval("SELECT 1")
        assert kept.idle == 1 and pool.get_idle_size() == 0
        async with pg.connection() as conn:
            assert conn is first  # the kept proxy itself: no acquire
        monkeypatch.setattr(client, "KEPT_MAX_IDLE_S", 0.0)
        await anyio.sleep(0.01)
        async with pg.connection() as conn:
            assert conn is not first  # a proxy of a fresh acquire: the stale one went back to the pool
            assert kept.idle == 0 and pool.get_idle_size() == 0
            await conn.fetchval("SELECT 1")
        monkeypatch.setattr(client, "KEPT_MAX_IDLE_S", 30.0)
        async with pg.connection() as conn:
            await kept.drop(pool)  # the pool is about to close
            await conn.fetchval("SELECT 1")
        assert kept.idle == 0  # released, not kept: closing the pool does not wait for it
        with anyio.fail_after(10):
            await pg.aclose()


async def test_the_read_connection_is_kept_for_the_next_read_but_never_starves_the_pool(seeded: str) -> None:
    """Sequential reads take the kept connection (no acquire/release); a failed read, a transaction left open
    or a pool with every connection out gives it back; one the server closed while kept is replaced without
    an error; closing the pool takes it back first (no hang)."""
    async with resources(PostgresSettings(database_url=seeded, pool_min_size=1, pool_max_size=2)) as pg:
        pool = await pg.backend.get()
        kept = pg.kept
        assert kept is not None

        def idle() -> int:  # read anew each time (no narrowing of a property)
            return kept.idle

        async with pg.connection() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        assert idle() == 1 and pool.get_idle_size() == 0  # kept out of the pool, idle
        for _ in range(3):
            async with pg.connection() as conn:
                assert await conn.fetchval("SELECT pg_backend_pid()") == first
                assert idle() == 0  # taken
                assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        with pytest.raises(asyncpg.UndefinedTableError):
            async with pg.connection() as conn:
                await conn.fetchval("SELECT * FROM no_such_table_here")
        assert idle() == 0 and pool.get_idle_size() == 1  # an error: back to the pool
        async with pg.connection() as a:
            async with pg.connection() as b:  # both connections of the pool out
                assert await a.fetchval("SELECT pg_backend_pid()") != await b.fetchval("SELECT pg_backend_pid()")
            assert idle() == 0 and pool.get_idle_size() == 1  # b came back with every one out: released
        assert idle() == 1 and pool.get_idle_size() == 1  # a came back with one free in the pool: kept
        async with pg.connection() as conn:
            await conn.execute("BEGIN READ ONLY")
        assert idle() == 0  # a transaction left open: closed, never kept
        async with pg.connection() as conn:
            kept_pid = await conn.fetchval("SELECT pg_backend_pid()")
        assert idle() == 1
        admin = await asyncpg.connect(seeded)
        try:
            await admin.fetchval("SELECT pg_terminate_backend($1)", kept_pid)
        finally:
            await admin.close()
        with anyio.fail_after(5):
            while idle():  # the loop sees the kept connection close (it goes back to its pool)
                await anyio.sleep(0.01)
        async with pg.connection() as conn:  # a fresh one, no error
            assert await conn.fetchval("SELECT pg_backend_pid()") != kept_pid
        assert idle() == 1
        with anyio.fail_after(10):
            await pg.aclose()  # gives the kept connection back, then the pool closes
        assert pool.is_closing() and idle() == 0
