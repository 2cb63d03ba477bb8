"""The PostgreSQL connection: an asyncpg pool behind a `Backend`, plus error translation."""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import orjson
from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, Health, NotConfigured, lifespan_state, tool_error
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


@dataclass
class Postgres:
    """What the postgres module's tools get from the lifespan."""

    settings: PostgresSettings
    backend: Backend[asyncpg.Pool]
    dirty: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    """Connections a write ran on: only these need the full session reset when returned to the pool."""

    async def check(self, timeout: float = 2.0) -> Health:
        return await self.backend.check(timeout)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; connection failures become an actionable 'unreachable' error."""
        import asyncpg

        pool = await self.backend.get()
        try:
            conn = await pool.acquire(timeout=self.settings.acquire_timeout_s)
        except (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            raise self.backend._unavailable(exc) from exc
        except asyncpg.PostgresError as exc:
            raise translate(exc, "connect") from exc
        try:
            yield conn
        finally:
            await pool.release(conn)

    @asynccontextmanager
    async def transaction(self, *, read_only: bool, timeout_ms: int | None = None) -> AsyncIterator[Transaction]:
        """A transaction with server-side statement/lock timeouts, opened in one round trip.

        It is rolled back on exit unless `commit()` was called.
        """
        ms = int(timeout_ms or self.settings.statement_timeout_ms)
        begin = "BEGIN READ ONLY" if read_only else "BEGIN"
        async with self.connection() as conn:
            if not read_only:  # a write may leave session state behind (SET, advisory locks, LISTEN ...)
                self.dirty.add(getattr(conn, "_con", conn))  # the pool hands out proxies of the connection
            await conn.execute(
                f"{begin}; SET LOCAL statement_timeout = {ms}; "
                f"SET LOCAL lock_timeout = {int(self.settings.lock_timeout_ms)}"
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


@dataclass
class Transaction:
    conn: asyncpg.Connection
    committed: bool = False

    async def commit(self) -> None:
        await self.conn.execute("COMMIT")
        self.committed = True


def state(ctx: Any) -> Postgres:
    """The module's lifespan object for a tool call."""
    pg: Postgres = lifespan_state(ctx, KEY)
    return pg


@asynccontextmanager
async def resources(settings: PostgresSettings | None = None) -> AsyncIterator[Postgres]:
    """Own the asyncpg pool for the lifetime of the server; never fail when PostgreSQL is down."""
    s = settings or PostgresSettings()

    dirty: weakref.WeakSet[Any] = weakref.WeakSet()

    async def reset(conn: asyncpg.Connection) -> None:
        # Read tools end every transaction themselves and cannot change session state (SET, LISTEN, advisory
        # locks and temporary objects are refused or impossible in READ ONLY), so their connections go back
        # to the pool without the extra reset round trip; connections a write ran on get the full reset.
        if conn in dirty:
            dirty.discard(conn)
            await conn.reset()

    async def connect() -> asyncpg.Pool:
        import asyncpg

        dsn = s.dsn()
        if not dsn:
            raise NotConfigured("set DATABASE_URL, e.g. postgresql://user:password@127.0.0.1:5432/dbname")
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn,
            min_size=min(s.pool_min_size, s.pool_max_size),
            max_size=s.pool_max_size,
            timeout=s.connect_timeout_s,
            init=_init_connection,
            reset=reset,
            server_settings={
                "application_name": s.application_name,
                "statement_timeout": str(s.statement_timeout_ms),
                "lock_timeout": str(s.lock_timeout_ms),
                "idle_in_transaction_session_timeout": str(s.idle_in_transaction_timeout_ms),
            },
        )
        return pool

    async def probe(pool: asyncpg.Pool) -> Any:
        return await pool.fetchval("SELECT 1")

    async def close(pool: asyncpg.Pool) -> None:
        await pool.close()

    backend: Backend[asyncpg.Pool] = Backend(
        module="postgres",
        title="PostgreSQL",
        target=s.target(),
        env_hint="DATABASE_URL",
        connect=connect,
        probe=probe,
        close=close,
    )
    try:
        yield Postgres(s, backend, dirty)
    finally:
        await backend.aclose()


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
