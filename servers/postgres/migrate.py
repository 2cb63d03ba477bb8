"""Migrations from a directory: status (with drift), apply a reviewed plan, roll back.

Apply and rollback hold a session advisory lock for the whole run, so one applier works at a time (a second
one is refused at once). A migration whose statements can all run in a transaction runs in one, together with
its ledger row, under `lock_timeout`; when the lock wait times out (or a deadlock is detected) the whole
transaction is retried a bounded number of times with backoff. A migration with statements that cannot run in a
transaction (CREATE INDEX CONCURRENTLY, VACUUM, ...) runs statement by statement and records each one in the
ledger as it completes: when one fails, the ledger says `failed` and how far it got, and invalid indexes the
failed statement left behind are dropped. The next plan resumes it at the failed statement.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers._common.tools import DESTRUCTIVE, DISRUPT, READ, tool
from servers.postgres.client import Postgres, state_of, translate
from servers.postgres.ledger import (
    SHAPE_SQL,
    Drift,
    LedgerEntry,
    drift,
    ensure_ledger,
    entry,
    ledger_name,
    ledger_regclass,
    plan_state,
    read_ledger,
    resolve,
    snapshot,
)
from servers.postgres.migration_files import Migration, Statement, load_directory, parse_migration, relation_names
from servers.postgres.migrations import SchemaChange, diff_shapes
from servers.postgres.values import redact_sql

Directory_ = str | None  # the migrations directory (default: the configured one)
LockTimeout = Annotated[
    int | None, Field(ge=1, le=600_000, description="lock_timeout per try in ms (default: server setting)")
]
Retries = Annotated[
    int | None, Field(ge=0, le=10, description="Retries after a lock_timeout or deadlock (default: server setting)")
]
TimeoutMs = Annotated[
    int | None, Field(ge=1, le=86_400_000, description="statement_timeout per statement in ms (default: server)")
]
_LOCK_KEY = 0x42414D  # first half of the advisory lock key; the second is hashtext(<ledger>)
_PLAN_ID = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{16}$")
_INVALID_SQL = "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"


class PendingMigration(BaseModel):
    version: str
    file: str
    has_down: bool


class MigrationsStatus(BaseModel):
    directory: str
    ledger: str
    current_version: str | None = Field(description="Highest applied version")
    applied: list[LedgerEntry] = Field(description="Newest first, up to `limit`")
    applied_count: int
    pending: list[PendingMigration] = Field(description="In order, up to `limit`")
    pending_count: int
    drift: list[Drift] = Field(description="Files changed or gone after apply, half-applied and out-of-order ones")
    schema_drift: list[SchemaChange] = Field(
        description="Live schema vs. what the applied migrations produced (tables they named and their schemas)"
    )
    ignored: list[str] = Field(description="Files that are not migrations (first 20)")
    truncated: bool


_LIVE_SQL = """
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.oid IS DISTINCT FROM to_regclass($3)
     AND (n.nspname || '.' || c.relname = ANY($1::text[]) OR n.nspname = ANY($2::text[]))"""


async def _schema_drift(conn: Any, pg: Postgres, rows: list[dict[str, Any]]) -> list[SchemaChange]:
    expected: dict[str, Any] = {}
    for r in rows:
        if r["status"] == "applied" and r["snapshot"]:
            expected.update(r["snapshot"])
    schemas = sorted({v["schema"] for v in expected.values() if v})
    oids = [r["oid"] for r in await conn.fetch(_LIVE_SQL, list(expected), schemas, ledger_regclass(pg.settings))]
    live = {r["relation"]: r for r in await conn.fetch(SHAPE_SQL, oids)}
    return diff_shapes({k: v for k, v in expected.items() if v}, live)


@tool("PostgreSQL: migrations applied, pending, drift", READ)
async def pg_migrations_status(
    ctx: Context[Any, Any],
    directory: Directory_ = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
) -> MigrationsStatus:
    """Check a migrations directory: applied, pending, and drift (edited or missing files, half-applied runs,
    unexplained schema changes).
    """
    pg = state_of(ctx)
    d = await anyio.to_thread.run_sync(load_directory, pg.settings, directory)
    try:
        async with pg.transaction(read_only=True) as tx:
            rows = await read_ledger(tx.conn, pg.settings)
            schema = await _schema_drift(tx.conn, pg, rows)
    except Exception as exc:
        raise translate(exc, "read the migrations ledger") from exc
    done = {r["version"] for r in rows if r["status"] == "applied"}
    todo = [m for m in d.migrations if m.version not in done]
    applied = [r for r in rows if r["status"] == "applied"]
    return MigrationsStatus(
        directory=d.path,
        ledger=ledger_name(pg.settings),
        current_version=applied[-1]["version"] if applied else None,
        applied=[entry(r) for r in reversed(rows[-limit:])],
        applied_count=len(applied),
        pending=[
            PendingMigration(version=m.version, file=m.file, has_down=m.down_file is not None) for m in todo[:limit]
        ],
        pending_count=len(todo),
        drift=drift(d, rows)[:limit],
        schema_drift=schema[:200],
        ignored=d.ignored[:20],
        truncated=len(rows) > limit or len(todo) > limit or len(schema) > 200,
    )


class RanMigration(BaseModel):
    version: str
    file: str
    statements: int = Field(description="Statements run by this call")
    attempts: int = Field(description="Tries of the slowest-to-lock step (1 = no lock_timeout retry)")
    duration_ms: float
    outside_transaction: bool = Field(description="Ran statement by statement (CONCURRENTLY, VACUUM)")


class ApplyResult(BaseModel):
    ran: list[RanMigration] = Field(description="Migrations applied (or rolled back) by this call, in order (last 200)")
    ran_count: int
    current_version: str | None = Field(description="Highest applied version afterwards")
    ledger: str


class _Failed(Exception):
    def __init__(self, where: str, exc: BaseException, attempts: int, cleaned: list[str]) -> None:
        super().__init__(where)
        self.where, self.exc, self.attempts, self.cleaned = where, exc, attempts, cleaned


@dataclass
class _Runner:
    ctx: Context[Any, Any]
    conn: Any
    ledger: str
    lock_ms: int
    statement_ms: int
    retries: int
    total: int
    client: str | None = None
    """The MCP client's name (from its initialize request), recorded in the ledger with the database user."""
    events: int = 0
    attempts: int = 1
    cleaned: list[str] = field(default_factory=list)

    async def progress(self, message: str) -> None:
        self.events += 1
        total = self.total if self.events <= self.total else None
        await self.ctx.report_progress(self.events, total, redact_sql(message)[:200])

    async def limits(self, local: bool) -> None:
        scope = "LOCAL " if local else ""
        await self.conn.execute(
            f"SET {scope}lock_timeout = {self.lock_ms}; SET {scope}statement_timeout = {self.statement_ms}"
        )

    async def retrying(self, label: str, fn: Callable[[], Awaitable[None]]) -> None:
        """Run `fn`; after a lock_timeout or deadlock, back off and try again up to `retries` times."""
        import asyncpg

        for attempt in range(1, self.retries + 2):
            self.attempts = max(self.attempts, attempt)
            try:
                await fn()
                return
            except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
                if attempt > self.retries:
                    raise
                await self.progress(f"{label}: lock not available, retry {attempt} of {self.retries}")
                await anyio.sleep(min(0.1 * 2**attempt, 3.0) * (0.5 + random.random()))


def _names(stmts: list[Statement]) -> list[tuple[str | None, str]]:
    return list(dict.fromkeys(n for st in stmts for n in relation_names(st.tree)))


_UPSERT = """
INSERT INTO {ledger} (version, version_key, name, file, checksum, status, statements_done, statements_total,
                      duration_ms, snapshot, applied_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
        session_user || ' (' || current_setting('application_name') || ')' || coalesce(' via ' || $11::text, ''))
ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, file = EXCLUDED.file, checksum = EXCLUDED.checksum,
  status = EXCLUDED.status, statements_done = EXCLUDED.statements_done, statements_total = EXCLUDED.statements_total,
  duration_ms = EXCLUDED.duration_ms, snapshot = EXCLUDED.snapshot, error = NULL, applied_at = now(),
  applied_by = EXCLUDED.applied_by"""


async def _record(r: _Runner, m: Migration, status: str, done: int, total: int, ms: Any, snap: Any) -> None:
    args = (m.version, list(m.key), m.name, m.file, m.checksum, status, done, total, ms, snap, r.client)
    await r.conn.execute(_UPSERT.format(ledger=r.ledger), *args)


async def _apply_in_transaction(r: _Runner, m: Migration, stmts: list[Statement]) -> float:
    names = _names(stmts)
    took = 0.0

    async def attempt() -> None:
        nonlocal took
        t0 = time.perf_counter()
        async with r.conn.transaction():
            await r.limits(local=True)
            before = await resolve(r.conn, names)
            for i, st in enumerate(stmts, 1):
                await r.conn.execute(st.text)
                await r.progress(f"{m.version} statement {i}/{len(stmts)}: {st.text[:80]}")
            took = (time.perf_counter() - t0) * 1000
            snap = await snapshot(r.conn, before, names)
            await _record(r, m, "applied", len(stmts), len(stmts), round(took, 2), snap)

    try:
        await r.retrying(m.version, attempt)
    except Exception as exc:
        raise _Failed(f"{m.version} ({m.file}), rolled back whole", exc, r.attempts, []) from exc
    return took


async def _outside(r: _Runner, st: Statement) -> None:
    """One statement outside a transaction; invalid indexes it leaves behind when it fails are dropped."""
    invalid = {row[0] for row in await r.conn.fetch(_INVALID_SQL)}
    try:
        await r.limits(local=False)
        await r.conn.execute(st.text)
    except BaseException:
        with anyio.CancelScope(shield=True):
            for row in await r.conn.fetch(_INVALID_SQL):
                if row[0] not in invalid:
                    await r.conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {row[0]}")
                    r.cleaned.append(row[0])
        raise


async def _apply_stepwise(r: _Runner, m: Migration, stmts: list[Statement], resume: int) -> float:
    names = _names(stmts)
    before = await resolve(r.conn, names)
    await _record(r, m, "running", resume, len(stmts), None, None)
    t0 = time.perf_counter()
    sql_done = f"UPDATE {r.ledger} SET statements_done = $2 WHERE version = $1"
    for i in range(resume, len(stmts)):
        st = stmts[i]

        async def one(st: Statement = st, i: int = i) -> None:
            if st.transactional:
                async with r.conn.transaction():
                    await r.limits(local=True)
                    await r.conn.execute(st.text)
                    await r.conn.execute(sql_done, m.version, i + 1)
            else:
                await _outside(r, st)
                await r.conn.execute(sql_done, m.version, i + 1)

        try:
            await r.retrying(f"{m.version} statement {i + 1}", one)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await r.conn.execute(
                    f"UPDATE {r.ledger} SET status = 'failed', error = $2 WHERE version = $1",
                    m.version,
                    f"statement {i + 1}: {exc}"[:500],
                )
            if not isinstance(exc, Exception):  # cancelled: the ledger says failed; let the cancellation through
                raise
            where = f"{m.version} ({m.file}) statement {i + 1} of {len(stmts)} (the ledger marks it failed, {i} done)"
            raise _Failed(where, exc, r.attempts, r.cleaned) from exc
        await r.progress(f"{m.version} statement {i + 1}/{len(stmts)}: {st.text[:80]}")
    took = (time.perf_counter() - t0) * 1000
    snap = await snapshot(r.conn, before, names)
    await _record(r, m, "applied", len(stmts), len(stmts), round(took, 2), snap)
    return took


async def _locked(conn: Any, pg: Postgres, action: str) -> None:
    """Take the migrations advisory lock for this session, or refuse naming who holds it."""
    key = ledger_regclass(pg.settings)
    if await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", _LOCK_KEY, key):
        return
    pid = await conn.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::int4::oid "
        "AND objid = hashtext($2)::oid AND objsubid = 2",
        _LOCK_KEY,
        key,
    )
    raise tool_error(
        action,
        f"another session (pid {pid}) is applying or rolling back migrations",
        hint="wait for it to finish, then plan again",
    )


def _client_name(ctx: Any) -> str | None:
    """The client's self-declared name, reduced to harmless characters (it is stored and shown back)."""
    try:
        name = str(ctx.session.client_params.client_info.name)
    except Exception:  # no session or no initialize params (stateless transports)
        return None
    return re.sub(r"[^\w .@/+-]", "", name)[:60] or None


def _runner(ctx: Any, conn: Any, pg: Postgres, lock: int | None, retries: int | None, t: int | None, n: int) -> _Runner:
    s = pg.settings
    return _Runner(
        ctx,
        conn,
        ledger_name(s),
        lock or s.lock_timeout_ms,
        t or s.statement_timeout_ms,
        s.migrations_retries if retries is None else retries,
        n,
        _client_name(ctx),
    )


@dataclass(frozen=True)
class _Step:
    """One migration to run (or undo): the file its statements come from, and the first one to run."""

    m: Migration
    file: str
    stmts: list[Statement]
    resume: int = 0


_Limits = tuple[int | None, int | None, int | None]
"""The caller's lock_timeout_ms, retries and timeout_ms (None: the settings')."""


async def _run_steps(
    ctx: Any,
    pg: Postgres,
    action: tuple[str, str],
    limits: _Limits,
    plan: Callable[[Any], Awaitable[list[_Step]]],
    run: Callable[[_Runner, _Step], Awaitable[tuple[float, bool]]],
) -> ApplyResult:
    """Apply or roll back: under the migration lock, `run` each step `plan(conn)` gives, in order; a failure names
    what ran before it. `action` is the action and its verb ("apply the migrations", "apply")."""
    ran: list[RanMigration] = []
    async with pg.connection(write=True) as conn:  # the write pool resets the session when it is returned
        try:
            await _locked(conn, pg, action[0])
            steps = await plan(conn)
            r = _runner(ctx, conn, pg, *limits, sum(len(s.stmts) - s.resume for s in steps))
            for s in steps:
                r.attempts = 1
                took, stepwise = await run(r, s)
                ran.append(
                    RanMigration(
                        version=s.m.version,
                        file=s.file,
                        statements=len(s.stmts) - s.resume,
                        attempts=r.attempts,
                        duration_ms=round(took, 2),
                        outside_transaction=stepwise,
                    )
                )
            current = await _latest_applied(conn, r.ledger)
        except _Failed as f:
            raise _failure(action[1], ran, f) from f.exc
        except Exception as exc:
            raise translate(exc, action[0]) from exc
    return _result(ran, current, pg)


def _failure(action: str, ran: list[RanMigration], f: _Failed) -> Exception:
    done = ", ".join(x.version for x in ran) or "none"
    cleaned = f"; dropped the invalid index(es) it left: {', '.join(f.cleaned)}" if f.cleaned else ""
    err = translate(f.exc, f"{action} {f.where} after {f.attempts} attempt(s) [done before it: {done}{cleaned}]")
    return err


@tool("PostgreSQL: apply a planned migration", DESTRUCTIVE)
async def pg_migration_apply(
    ctx: Context[Any, Any],
    plan_id: str,
    directory: Directory_ = None,
    lock_timeout_ms: LockTimeout = None,
    retries: Retries = None,
    timeout_ms: TimeoutMs = None,
) -> ApplyResult:
    """Apply the pending migrations of a reviewed plan from pg_migration_plan; refused when a file, the ledger or
    the schema changed since. Each migration runs in its own transaction, lock waits bounded and retried.
    """
    pg = state_of(ctx)
    action = "apply the migrations"
    if not _PLAN_ID.match(plan_id):
        raise tool_error(action, "`plan_id` is not one pg_migration_plan returns", hint="run pg_migration_plan")
    d = await anyio.to_thread.run_sync(load_directory, pg.settings, directory)

    async def plan(conn: Any) -> list[_Step]:
        await ensure_ledger(conn, pg.settings)
        ps = await plan_state(conn, pg.settings, d)
        if ps.plan_id != plan_id:
            what = "the schema" if ps.plan_id[:16] == plan_id[:16] else "the migration files or the ledger"
            raise tool_error(action, f"refused: {what} changed since the plan", hint="run pg_migration_plan again")
        return [_Step(m, m.file, parse_migration(m.sql, m.file), resume) for m, resume in ps.todo]

    return await _run_steps(ctx, pg, (action, "apply"), (lock_timeout_ms, retries, timeout_ms), plan, _apply_one)


async def _apply_one(r: _Runner, s: _Step) -> tuple[float, bool]:
    """Apply one migration: in one transaction when every statement (still to run) can run in one."""
    if s.resume > 0 or any(not st.transactional for st in s.stmts):
        return await _apply_stepwise(r, s.m, s.stmts, s.resume), True
    return await _apply_in_transaction(r, s.m, s.stmts), False


async def _latest_applied(conn: Any, ledger: str) -> str | None:
    version: str | None = await conn.fetchval(
        f"SELECT version FROM {ledger} WHERE status = 'applied' ORDER BY version_key DESC LIMIT 1"
    )
    return version


def _result(ran: list[RanMigration], current: str | None, pg: Any) -> ApplyResult:
    """The answer of apply and rollback: the last 200 migrations run, their count and the current version."""
    return ApplyResult(ran=ran[-200:], ran_count=len(ran), current_version=current, ledger=ledger_name(pg.settings))


def _down_targets(rows: list[dict[str, Any]], files: dict[str, Migration], steps: int) -> list[Migration]:
    """The last `steps` ledger entries, newest first; refuse unless each has its file unchanged and a down file."""
    action = "roll back the migrations"
    if len(rows) < steps:
        raise tool_error(action, f"only {len(rows)} migration(s) are in the ledger, {steps} asked")
    out = []
    for r in reversed(rows[-steps:]):
        m = files.get(r["version"])
        if m is None or m.checksum != r["checksum"]:
            state_ = "is gone" if m is None else "changed after it was applied"
            raise tool_error(
                action,
                f"refused: {r['file']} {state_}, so its down file may not undo what ran",
                hint="restore the file, or undo the migration by hand",
            )
        if m.down_sql is None:
            raise tool_error(
                action,
                f"refused: {m.version} ({m.file}) has no down/undo file",
                hint="add U<version>__name.sql (Flyway) or <version>_name.down.sql (golang-migrate)",
            )
        out.append(m)
    return out


async def _roll_back_one(r: _Runner, m: Migration, stmts: list[Statement]) -> tuple[float, bool]:
    t0 = time.perf_counter()
    delete = f"DELETE FROM {r.ledger} WHERE version = $1"
    if all(st.transactional for st in stmts):

        async def attempt() -> None:
            async with r.conn.transaction():
                await r.limits(local=True)
                for i, st in enumerate(stmts, 1):
                    await r.conn.execute(st.text)
                    await r.progress(f"undo {m.version} statement {i}/{len(stmts)}: {st.text[:80]}")
                await r.conn.execute(delete, m.version)

        try:
            await r.retrying(m.version, attempt)
        except Exception as exc:
            raise _Failed(f"{m.version} ({m.down_file}), rolled back whole", exc, r.attempts, []) from exc
        return (time.perf_counter() - t0) * 1000, False
    mark = f"UPDATE {r.ledger} SET status = $2, error = $3 WHERE version = $1"
    await r.conn.execute(mark, m.version, "rolling back", None)
    for i, st in enumerate(stmts, 1):

        async def one(st: Statement = st) -> None:
            if st.transactional:
                async with r.conn.transaction():
                    await r.limits(local=True)
                    await r.conn.execute(st.text)
            else:
                await _outside(r, st)

        try:
            await r.retrying(f"undo {m.version} statement {i}", one)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await r.conn.execute(mark, m.version, "rollback failed", f"down statement {i}: {exc}"[:500])
            if not isinstance(exc, Exception):
                raise
            where = f"{m.version} ({m.down_file}) statement {i} of {len(stmts)}; ledger marks it 'rollback failed'"
            raise _Failed(where, exc, r.attempts, r.cleaned) from exc
        await r.progress(f"undo {m.version} statement {i}/{len(stmts)}: {st.text[:80]}")
    await r.conn.execute(delete, m.version)
    return (time.perf_counter() - t0) * 1000, True


@tool("PostgreSQL: undo the latest migrations", DISRUPT)
async def pg_migration_rollback(
    ctx: Context[Any, Any],
    steps: Annotated[int, Field(ge=1, le=50, description="Latest applied migrations to undo")] = 1,
    directory: Directory_ = None,
    lock_timeout_ms: LockTimeout = None,
    retries: Retries = None,
    timeout_ms: TimeoutMs = None,
) -> ApplyResult:
    """Undo the latest applied migrations with their down files, newest first, as safely as pg_migration_apply;
    refused when a down file is missing.
    """
    pg = state_of(ctx)
    action = "roll back the migrations"
    d = await anyio.to_thread.run_sync(load_directory, pg.settings, directory)

    async def plan(conn: Any) -> list[_Step]:
        rows = await read_ledger(conn, pg.settings)
        targets = _down_targets(rows, d.by_version(), steps)
        return [_Step(m, m.down_file or "", parse_migration(m.down_sql or "", m.down_file or "")) for m in targets]

    async def run(r: _Runner, s: _Step) -> tuple[float, bool]:
        return await _roll_back_one(r, s.m, s.stmts)

    return await _run_steps(ctx, pg, (action, "roll back"), (lock_timeout_ms, retries, timeout_ms), plan, run)
