"""The PostgreSQL connection: an asyncpg pool behind a `Backend`, plus error translation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import orjson
from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, BackendState, NotConfigured, tool_error
from servers._common.backend import client_pool_sizes
from servers._common.identity import principal
from servers._common.lifespan import BackendId, backend_for, serving
from servers._common.state import StateOf
from servers.postgres.settings import PostgresSettings

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("backend_architect_mcp.postgres")
KEY = "postgres"

CONNECTION_SQLSTATE_CLASSES = ("08", "57P")  # connection exceptions, operator intervention (shutdown)


async def _init_connection(conn: asyncpg.Connection) -> None:
    """Decode json/jsonb to objects and interval as PostgreSQL's own text (months stay months)."""
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ,
            schema="pg_catalog",
            encoder=lambda v: v if isinstance(v, str) else orjson.dumps(v).decode(),
            decoder=orjson.loads,
            format="text",
        )
    await conn.set_type_codec("interval", schema="pg_catalog", encoder=str, decoder=str, format="text")


def server_settings(s: PostgresSettings, *, read_only: bool) -> dict[str, str]:
    """Session settings sent in the startup packet: every statement is bounded without an extra round trip.

    Connections of the read pool also start with `default_transaction_read_only = on`, so a read needs no
    BEGIN READ ONLY / ROLLBACK around it. A read statement cannot switch that off: the parse gate allows one
    SELECT/SHOW only (no SET, no transaction control) and refuses `set_config()`.
    """
    out = {
        "application_name": s.application_name,
        "statement_timeout": str(s.statement_timeout_ms),
        "lock_timeout": str(s.lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(s.idle_in_transaction_timeout_ms),
    }
    if read_only:
        out["default_transaction_read_only"] = "on"
    return out


async def fetch_page(
    conn: asyncpg.Connection, sql: str, bind: Callable[[list[str]], list[Any]], limit: int
) -> tuple[list[asyncpg.Record], list[Any]]:
    """At most `limit` rows of `sql` and its result attributes, through the connection's statement cache.

    With the statement cached this is one round trip (Bind + Execute with a row limit + Sync); a schema
    change that invalidates the cached statement is retried once by asyncpg (outside a transaction).
    `bind` gets the statement's parameter type names and returns the arguments.

    asyncpg has no public "cached statement with a row limit" call, so this is the one place that uses its
    private API (`Connection._prepare(use_cache=True)`, `Connection._execute(query, args, limit, timeout)`);
    tests/servers/postgres/test_client.py fails loudly when asyncpg changes them.
    """
    stmt = await conn._prepare(sql, use_cache=True)
    args = bind([t.name for t in stmt.get_parameters()])
    records: list[asyncpg.Record] = await conn._execute(sql, args, limit, None)
    # The statement may have been re-prepared by the retry: take the attributes from the cache as it is now.
    current = await conn._prepare(sql, use_cache=True)
    return records, list(current.get_attributes())


KEPT_MAX_IDLE_S = 30.0
"""A kept read connection idle longer than this goes back to the pool (whose idle expiry then applies)."""


class KeptConnection:
    """The read pool's last returned connection, kept out of the pool for the next read: taking it back is an
    attribute swap, where asyncpg's acquire and release cost a queue, a shielded task and a timer each.

    One at most, healthy only (open, no transaction left, the block ended without an error), and only while
    the pool still has a connection for any other taker (fewer in use, the kept one included, than its
    maximum), so nothing ever waits on the pool for it; `drop` gives it back before the pool closes, and
    nothing is kept for that pool after. One kept longer than `KEPT_MAX_IDLE_S` goes back to the pool instead
    of being used, so the pool's own idle expiry applies to it as to any idle connection.
    """

    def __init__(self) -> None:
        self._pool: asyncpg.Pool | None = None
        self._conn: asyncpg.Connection | None = None
        self._since = 0.0
        self._dropped: asyncpg.Pool | None = None

    def take(self, pool: asyncpg.Pool) -> tuple[asyncpg.Connection | None, asyncpg.Connection | None]:
        """(the kept connection to use, or a stale one to give back to the pool): at most one of them."""
        conn, self._conn = self._conn, None
        if conn is None or self._pool is not pool or not _open(conn):
            return None, None  # a closed one went back to its pool by itself (asyncpg releases it on close)
        if time.monotonic() - self._since > KEPT_MAX_IDLE_S:
            return None, conn
        return conn, None

    def keep(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> bool:
        """Keep `conn` for the next read instead of releasing it; whether it was kept."""
        if self._conn is not None or pool is self._dropped or pool.is_closing():
            return False
        if not _open(conn) or conn.is_in_transaction():
            return False
        if pool.get_size() - pool.get_idle_size() >= pool.get_max_size():
            return False  # every connection of the pool is out: a taker may be waiting for this one
        self._pool, self._conn, self._since = pool, conn, time.monotonic()
        return True

    @property
    def idle(self) -> int:
        """Connections kept idle here (out of the pool's own count of idle ones)."""
        return int(self._conn is not None and _open(self._conn))

    async def drop(self, pool: asyncpg.Pool) -> None:
        """Give the kept connection back to `pool` (before the pool closes: closing waits for every one); a read
        ending meanwhile does not keep its connection for `pool` any more."""
        self._dropped = pool
        conn, kept_by, self._conn = self._conn, self._pool, None
        if conn is not None and _open(conn) and kept_by is not None and kept_by is pool:
            await kept_by.release(conn)


def _open(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection is open; one that closed while kept has gone back to its pool, and its
    proxy answers nothing more (InterfaceError)."""
    import asyncpg

    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


@dataclass
class Postgres(BackendState[PostgresSettings, "asyncpg.Pool"]):
    """What the postgres module's tools get from the lifespan: a read pool and a (lazy) write pool."""

    settings: PostgresSettings
    backend: Backend[asyncpg.Pool]
    """The read pool: sessions start read-only (`default_transaction_read_only`) and never run writes."""
    writer: Backend[asyncpg.Pool] | None = None
    """The write pool, opened on the first write; its connections are fully reset when returned."""
    kept: KeptConnection | None = None
    """The read pool's connection kept for the next read (`_backend` gives it back before the pool closes)."""

    async def aclose(self) -> None:
        if self.writer is not None:
            await self.writer.aclose()
        await self.backend.aclose()

    def pool_sizes(self) -> Iterator[tuple[str, int]]:
        """The read pool's sizes; the kept connection is idle, though the pool counts it in use."""
        return client_pool_sizes(self.backend.connected, self.kept.idle if self.kept is not None else 0)

    @asynccontextmanager
    async def _acquire(self, *, write: bool) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; one still inside a transaction when it comes back is closed, never reused."""
        backend = self.writer if write and self.writer is not None else self.backend
        pool = await backend.get()
        kept = self.kept if backend is self.backend else None
        conn, stale = kept.take(pool) if kept is not None else (None, None)
        if stale is not None:
            await self._release(pool, stale)
        if conn is None:
            conn = await self._from_pool(backend, pool)
        try:
            yield conn
        except BaseException:
            await self._release(pool, conn)
            raise
        if kept is None or not kept.keep(pool, conn):
            await self._release(pool, conn)

    async def _from_pool(self, backend: Backend[asyncpg.Pool], pool: asyncpg.Pool) -> asyncpg.Connection:
        import asyncpg

        try:
            if pool.get_idle_size():  # an open connection is free: acquiring it does not wait
                return await pool.acquire()
            # Not `acquire(timeout=)`, which on Python < 3.12 runs the wait in a task of its own, nor an
            # anyio cancel scope: `asyncio.timeout` (what asyncpg uses itself) is the cheapest deadline.
            async with asyncio.timeout(self.settings.acquire_timeout_s):
                return await pool.acquire()
        except (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            raise backend.unavailable(exc) from exc
        except asyncpg.PostgresError as exc:
            raise translate(exc, "connect") from exc

    async def _release(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        if _open(conn) and conn.is_in_transaction():
            conn.terminate()  # its transaction (and any SET LOCAL ROLE) must not reach the next caller
        await pool.release(conn, timeout=self.settings.acquire_timeout_s)

    @asynccontextmanager
    async def connection(self, *, write: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection (read-only unless `write`); connection failures become an 'unreachable' error.

        When the caller acts as a mapped role (`servers._common.identity`), a read connection runs inside
        a transaction opened with `SET LOCAL ROLE` in the same round trip and rolled back afterwards, so the
        role ends with the call; a write connection (migrations, which manage their own transactions)
        takes the role for the session and drops it with `RESET ROLE` before it goes back to the pool.
        """
        role = pg_role()
        async with self._acquire(write=write) as conn:
            if role is None:
                yield conn
            elif write:
                await conn.execute(f"SET ROLE {quote_ident(role)}")
                try:
                    yield conn
                finally:
                    await _end_role(conn, "RESET ROLE")
            else:
                await conn.execute(f"BEGIN READ ONLY; SET LOCAL ROLE {quote_ident(role)}")
                try:
                    yield conn
                finally:
                    await _end_role(conn, "ROLLBACK")

    @asynccontextmanager
    async def transaction(self, *, read_only: bool, timeout_ms: int | None = None) -> AsyncIterator[Transaction]:
        """A transaction with server-side statement/lock timeouts (and the caller's mapped role, if any),
        opened in one round trip.

        Reads run on the read pool (READ ONLY twice over), writes on the write pool. It is rolled back on
        exit unless `commit()` was called.
        """
        ms = int(timeout_ms or self.settings.statement_timeout_ms)
        begin = "BEGIN READ ONLY" if read_only else "BEGIN READ WRITE"
        role = pg_role()
        set_role = f"; SET LOCAL ROLE {quote_ident(role)}" if role is not None else ""
        async with self._acquire(write=not read_only) as conn:
            await conn.execute(
                f"{begin}; SET LOCAL statement_timeout = {ms}; "
                f"SET LOCAL lock_timeout = {int(self.settings.lock_timeout_ms)}{set_role}"
            )
            tx = Transaction(conn)
            try:
                yield tx
            finally:
                if not tx.committed and not conn.is_closed():
                    with anyio.CancelScope(shield=True):
                        try:
                            await conn.execute("ROLLBACK")
                        except Exception as exc:  # a dead connection rolls back by itself
                            log.debug("rollback failed: %s", exc)


def pg_role() -> str | None:
    """The PostgreSQL role the current call acts as (None: the login role); raises when it is denied."""
    p = principal("postgres")
    return p.name if p is not None else None


def quote_ident(name: str) -> str:
    """A role name as a quoted SQL identifier."""
    if not name or "\x00" in name or len(name.encode()) > 63:
        raise ValueError(f"not a PostgreSQL role name: {name[:80]!r}")
    return '"' + name.replace('"', '""') + '"'


async def _end_role(conn: asyncpg.Connection, sql: str) -> None:
    """Drop the call's role; a connection where that fails is closed so the role cannot leak."""
    if conn.is_closed():
        return
    with anyio.CancelScope(shield=True):
        try:
            await conn.execute(sql)
        except Exception as exc:
            log.debug("%s failed (%s): closing the connection", sql, exc)
            conn.terminate()


@dataclass
class Transaction:
    conn: asyncpg.Connection
    committed: bool = False

    async def commit(self) -> None:
        await self.conn.execute("COMMIT")
        self.committed = True


state_of = StateOf(KEY, Postgres)
"""The module's lifespan object for a tool call."""


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Read-pool connections go back without the reset round trip: reads cannot change session state
    (SET, LISTEN, advisory locks, set_config and temporary objects are refused or impossible read-only;
    hypopg state is cleared by pg_explain itself)."""


POSTGRES = BackendId("postgres", "PostgreSQL", "DATABASE_URL")


def _backend(s: PostgresSettings, *, read_only: bool, kept: KeptConnection | None = None) -> Backend[asyncpg.Pool]:
    async def connect() -> asyncpg.Pool:
        import asyncpg

        dsn = s.dsn()
        if not dsn:
            raise NotConfigured("set DATABASE_URL, e.g. postgresql://user:password@127.0.0.1:5432/dbname")
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn,
            min_size=min(s.pool_min_size, s.pool_max_size) if read_only else 0,
            max_size=s.pool_max_size,
            timeout=s.connect_timeout_s,
            init=_init_connection,
            reset=_no_reset if read_only else None,
            server_settings=server_settings(s, read_only=read_only),
        )
        return pool

    async def probe(pool: asyncpg.Pool) -> Any:
        return await pool.fetchval("SELECT 1")

    async def close(pool: asyncpg.Pool) -> None:
        if kept is not None:
            await kept.drop(pool)
        await pool.close()

    return backend_for(POSTGRES, s.target(), connect, probe, close)


@asynccontextmanager
async def resources(settings: PostgresSettings | None = None) -> AsyncIterator[Postgres]:
    """Own the asyncpg pools for the lifetime of the server; never fail when PostgreSQL is down."""
    s = settings or PostgresSettings()
    kept = KeptConnection()
    reader, writer = _backend(s, read_only=True, kept=kept), _backend(s, read_only=False)
    async with serving(Postgres(s, reader, writer, kept), reader, writer) as state:
        yield state


def translate(exc: BaseException, action: str) -> ToolError:
    """asyncpg errors as tool errors carrying SQLSTATE, message, detail, hint and position."""
    import asyncpg

    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        code = getattr(exc, "sqlstate", None) or ""
        message = getattr(exc, "message", None) or str(exc)
        detail = getattr(exc, "detail", None)
        hint = getattr(exc, "hint", None)
        position = getattr(exc, "position", None)
        extra = []
        if position:
            extra.append(f"at character {position}")
        if code == "57014":
            hint = hint or "the statement hit statement_timeout; add filters/LIMIT or raise `timeout_ms`"
        elif code == "55P03":
            hint = hint or "lock_timeout expired waiting for a lock; retry later or check pg_activity"
        elif code == "25006":
            hint = hint or "the session is read-only; use pg_execute with writes allowed for postgres"
        elif code == "42P01":
            hint = hint or "check the name with pg_tables_list (schema-qualify it if needed)"
        elif code == "42703":
            hint = hint or "check the column names with pg_table_describe"
        elif code.startswith(CONNECTION_SQLSTATE_CLASSES):
            hint = hint or "the connection was lost; retry the call (the pool reconnects)"
        msg = message + (f" ({', '.join(extra)})" if extra else "")
        return tool_error(action, msg, code=f"SQLSTATE {code}" if code else None, detail=detail, hint=hint)
    if isinstance(exc, OSError | asyncpg.InterfaceError | TimeoutError):
        return tool_error(action, f"{type(exc).__name__}: {exc}", hint="PostgreSQL connection problem; retry")
    return tool_error(action, f"{type(exc).__name__}: {exc}")
